"""The simulator as Azure Event Grid (AMS v3, RMS) and MK.IO webhook sender.

An EventFeed watches the simulated lifecycles, the same SimJob timelines the APIs
serve, and POSTs the events a subscription on those accounts would get
(ams-successors.md §1.7 and §3):

- AMS v3 and RMS accounts: for each state change `Microsoft.Media.JobStateChange`,
  then the specific `Microsoft.Media.Job{Scheduled,Processing,Canceling,Finished,
  Canceled,Errored}` (the last three with the outputs: state, progress, error); with
  `output_events`, `JobOutputStateChange` and `JobOutput<State>` per output before
  them; while a job processes, one `JobOutputProgress` per output at most every
  `progress_interval` simulated seconds (the first that long after processing
  began). Event Grid schema (always an array, `application/json`) or CloudEvents
  1.0 (one object as `application/cloudevents+json`, or with batch > 1 arrays as
  `application/cloudevents-batch+json`). `topic`/`source` is the account's resource
  id (or the topic given, e.g. an RMS custom topic), `subject`
  `transforms/<t>/jobs/<j>`, times UTC with seven digits and no `Z`.
- MK.IO projects: `MediaKind.JobStarted` (→ Processing) and `MediaKind.JobFinished`
  (→ Finished, Error, Canceled), one CloudEvents object per POST, `source`
  `/api/v1/projects/<p>/transforms/<t>/jobs/<j>`, `data` `{projectName,
  previousState, state, resource}` with the job as a GET returns it at that moment.

Before the first Event Grid delivery of a topic comes the subscription handshake: a
`SubscriptionValidation` POST whose answer must echo the code (Event Grid schema),
or an `OPTIONS` with `WebHook-Request-Origin: eventgrid.azure.net` whose answer must
carry `WebHook-Allowed-Origin` (CloudEvents). A refused handshake drops that topic's
events; a failed one (connection error, 408, 429, 5xx) is retried like a delivery.
MK.IO documents no handshake and gets none.

Timing: a thread polls the stores every POLL_SECONDS of real time and announces every
change the simulator clock has passed since the last look, stamped with the simulated
instant it happened (a ManualClock drives it; wait_idle() waits for the result).
Jobs that exist when the feed starts are announced from their state then on.
Deliveries and retries run in real time: Event Grid's schedule (10 s, 30 s, 1 min,
5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h; at least 30 s after a 503 and
2 min after a 408; no jitter) times `retry_scale`, until `max_attempts` or the
time-to-live (24 h, scaled too). 400, 401, 403 and 413 are never retried. A success
is 200-204. Duplicates (a second, separate delivery of the same event) and
reordering (an event swapped with the next one of its topic) happen at the given
rates, drawn from the simulator's seed.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from exporter.jobs.states import FINAL_STATES, JobState
from exporter.simulator.clock import Clock
from exporter.simulator.jobs import JobView, SimJob, to_us, view_job
from exporter.simulator.mkio_entities import mkio_datetime
from exporter.simulator.v3_entities import V3Transform

log = logging.getLogger(__name__)

EVENTGRID = "eventgrid"
CLOUDEVENTS = "cloudevents"
SCHEMAS = (EVENTGRID, CLOUDEVENTS)
#: Event Grid's webhook retry delays in seconds; after the last, every 12 h.
RETRY_DELAYS = (10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 10800.0, 21600.0)
RETRY_LATER = 43200.0
MIN_RETRY_DELAY = {408: 120.0, 503: 30.0}
NO_RETRY = frozenset({400, 401, 403, 413})
MAX_BATCH = 5000
MAX_BATCH_BYTES = 1024 * 1024  # Event Grid's preferred batch size, at most
MAX_ATTEMPTS = 30
DEFAULT_TTL = 86400.0
DEFAULT_PROGRESS_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0  # Event Grid waits this long for an answer
POLL_SECONDS = 0.05
VALIDATION_ORIGIN = "eventgrid.azure.net"
VALIDATION_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"
SUBSCRIPTION_NAME = "AMS-JOB-EXPORTER"  # aeg-subscription-name (Event Grid upper-cases it)
JSON_TYPE = "application/json; charset=utf-8"
CLOUDEVENT_TYPE = "application/cloudevents+json; charset=utf-8"
CLOUDEVENT_BATCH_TYPE = "application/cloudevents-batch+json; charset=utf-8"
ZERO_ID = "00000000-0000-0000-0000-000000000000"  # what JobOutputProgress samples carry

PENDING = "pending"
VALIDATED = "validated"
FAILED = "failed"

_MEDIA = "Microsoft.Media."
_SPECIFIC = {
    JobState.Scheduled: "Scheduled", JobState.Processing: "Processing",
    JobState.Canceling: "Canceling", JobState.Finished: "Finished",
    JobState.Canceled: "Canceled", JobState.Error: "Errored",
}
_OUTPUT_KEYS = ("@odata.type", "assetName", "error", "label", "progress", "state")

AuthHeader = str | Callable[[], str]
Event = dict[str, Any]


@dataclass(frozen=True)
class EventSource:
    """One account whose job changes the feed announces."""

    account: str  # the simulator's name for it
    mkio: bool
    topic: str  # Event Grid topic (v3, RMS); the project name for MK.IO
    transforms: Callable[[], list[V3Transform]]
    #: The job as a GET returns it at the view's instant.
    resource: Callable[[V3Transform, JobView], dict[str, Any]]


def _correlation(job: SimJob) -> dict[str, Any]:
    """The job's correlationData as its events carry it (a copy: events are queued)."""
    return dict(job.correlation or {})


def event_grid_time(t: float) -> str:
    """UTC with seven fractional digits and no Z: 2018-04-20T21:26:13.8978770 (the
    simulator keeps microseconds, so the seventh digit is 0)."""
    ticks = to_us(t) * 10  # t * 10**7 would exceed a double's exact integers
    seconds, fraction = divmod(ticks, 10_000_000)
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:07d}"


def retry_delay(attempts: int, status: int | None) -> float:
    """Seconds before the next try after `attempts` failed ones (unscaled)."""
    base = RETRY_DELAYS[attempts - 1] if attempts <= len(RETRY_DELAYS) else RETRY_LATER
    return max(base, MIN_RETRY_DELAY.get(status or 0, 0.0))


def with_secret(url: str, secret: str | None) -> str:
    if secret is None:
        return url
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("secret", secret)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class _Seen:
    """What the feed last announced of one job."""

    job: SimJob  # the object looked at (a scripted change swaps it)
    until: float  # its timeline is announced up to this instant
    state: JobState
    progress_from: float | None  # Processing: progress is counted from here


@dataclass
class _StoreMemo:
    version: int
    due: float  # the next instant something can happen without the store changing
    jobs: dict[str, _Seen]


@dataclass
class _Delivery:
    seq: int
    topic: str
    events: list[Event]
    single: bool  # the body is one object, not an array
    content_type: str
    event_grid: bool  # aeg-* headers (not on MK.IO webhooks)
    due: float  # time.monotonic()
    attempts: int = 0
    first_attempt: float | None = None


@dataclass
class _Handshake:
    topic: str
    due: float
    attempts: int = 0
    first_attempt: float | None = None


@dataclass
class _Counters:
    generated: int = 0  # events made from state changes (duplicates not counted)
    delivered: int = 0  # events in accepted POSTs (duplicates counted)
    deliveries: int = 0  # accepted POSTs
    attempts: int = 0  # event POSTs sent (handshakes not counted)
    retried: int = 0  # of which retries
    dropped: int = 0  # events given up on
    duplicated: int = 0  # extra copies queued
    reordered: int = 0  # swaps of neighbouring events
    handshake_attempts: int = 0
    drop_reasons: Counter[str] = field(default_factory=Counter)


class EventFeed:
    """Posts the job events of `sources` to `url` from a background thread."""

    def __init__(
        self,
        url: str,
        sources: Sequence[EventSource],
        clock: Clock,
        seed: str,
        *,
        schema: str = EVENTGRID,
        batch: int = 1,
        duplicate_rate: float = 0.0,
        reorder_rate: float = 0.0,
        retry_scale: float = 1.0,
        max_attempts: int = MAX_ATTEMPTS,
        secret: str | None = None,
        auth_header: AuthHeader | None = None,
        handshake: bool = True,
        topics: dict[str, str] | None = None,
        progress_interval: float | None = DEFAULT_PROGRESS_INTERVAL,
        output_events: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        ttl: float = DEFAULT_TTL,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        verify: bool | str = True,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        check_settings(url, schema, batch, duplicate_rate, reorder_rate, retry_scale,
                       max_attempts, progress_interval, timeout, ttl, max_batch_bytes)
        self.url = url
        self.schema = schema
        self._target = with_secret(url, secret)
        self._sources = list(sources)
        self._clock = clock
        self._batch = batch
        self._duplicate_rate = duplicate_rate
        self._reorder_rate = reorder_rate
        self._retry_scale = retry_scale
        self._max_attempts = max_attempts
        self._auth_header = auth_header
        self._progress_interval = progress_interval
        self._output_events = output_events
        self._timeout = timeout
        self._ttl = ttl
        self._max_batch_bytes = max_batch_bytes
        self._poll = poll_seconds
        self._ids = random.Random(f"{seed}/ids")
        self._duplicates = random.Random(f"{seed}/duplicates")
        self._reorders = random.Random(f"{seed}/reorder")
        self._start = clock()
        self._memos: dict[tuple[str, str], _StoreMemo] = {}
        self._deliveries: list[_Delivery] = []
        self._seq = 0
        self._counters = _Counters()
        self._handshakes: dict[str, str] = {}
        self._pending_handshakes: dict[str, _Handshake] = {}
        eg_topics = dict.fromkeys(s.topic for s in self._sources if not s.mkio)
        for topic in eg_topics:
            self._handshakes[topic] = PENDING if handshake else VALIDATED
            if handshake:
                self._pending_handshakes[topic] = _Handshake(topic, time.monotonic())
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies from the environment: a local receiver
        self._session.verify = verify
        self._cond = threading.Condition()
        self._iterations_started = 0
        self._iterations_done = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ life

    def start(self) -> EventFeed:
        self._thread = threading.Thread(target=self._run, name="ams-sim-events", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sending; what is still queued is abandoned."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._cond:
            self._cond.notify_all()
        self._session.close()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until the changes up to the clock's time now are announced and every
        event is delivered or dropped (retries included); False on timeout."""
        with self._cond:
            target = self._iterations_started + 1
        self._wake.set()
        with self._cond:
            return self._cond.wait_for(lambda: self._idle(target), timeout)

    def _idle(self, target: int) -> bool:
        """Lock held. A stopped feed is as idle as it will ever be."""
        queue_empty = not self._deliveries and not self._pending_handshakes
        running = self._thread is not None and self._thread.is_alive()
        return not running or (queue_empty and self._iterations_done >= target)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                self._iterations_started += 1
                iteration = self._iterations_started
            try:
                self._scan()
                self._shake_hands()
                self._deliver()
            except Exception:  # the feed must outlive one bad moment
                log.exception("simulator event feed: unexpected error")
            with self._cond:
                self._iterations_done = iteration
                self._cond.notify_all()
            self._wake.wait(self._poll)
            self._wake.clear()

    # ------------------------------------------------------------ counters

    def _count(self, name: str) -> int:
        with self._cond:
            return int(getattr(self._counters, name))

    @property
    def generated(self) -> int:
        """Events made from state changes (duplicates not counted)."""
        return self._count("generated")

    @property
    def delivered(self) -> int:
        """Events in POSTs answered 200-204 (a duplicate counts again)."""
        return self._count("delivered")

    @property
    def deliveries(self) -> int:
        """POSTs answered 200-204."""
        return self._count("deliveries")

    @property
    def attempts(self) -> int:
        """Event POSTs sent, retries included (handshakes not)."""
        return self._count("attempts")

    @property
    def retried(self) -> int:
        """Event POSTs that were retries."""
        return self._count("retried")

    @property
    def dropped(self) -> int:
        """Events given up on (400/401/403/413, attempts or TTL used up, refused
        handshake)."""
        return self._count("dropped")

    @property
    def duplicated(self) -> int:
        """Extra copies of events queued."""
        return self._count("duplicated")

    @property
    def reordered(self) -> int:
        """Neighbouring events swapped."""
        return self._count("reordered")

    @property
    def handshake_attempts(self) -> int:
        return self._count("handshake_attempts")

    @property
    def pending(self) -> int:
        """Events queued: not delivered or dropped yet."""
        with self._cond:
            return sum(len(d.events) for d in self._deliveries)

    @property
    def drop_reasons(self) -> dict[str, int]:
        """Dropped events by reason: "status 401", "max_attempts", "ttl", "handshake"."""
        with self._cond:
            return dict(self._counters.drop_reasons)

    @property
    def handshakes(self) -> dict[str, str]:
        """Each Event Grid topic's handshake: pending, validated or failed."""
        with self._cond:
            return dict(self._handshakes)

    # ------------------------------------------------------------ watching the jobs

    def _scan(self) -> None:
        now = self._clock()
        found: list[tuple[float, int, EventSource, Event]] = []
        for source in self._sources:
            for transform in source.transforms():
                self._scan_store(source, transform, now, found)
        if not found:
            return
        found.sort(key=lambda item: (item[0], item[1]))  # as it happened
        by_topic: dict[str, tuple[EventSource, list[Event]]] = {}
        for _, _, source, event in found:
            by_topic.setdefault(source.topic, (source, []))[1].append(event)
        with self._cond:
            self._counters.generated += len(found)
            for source, events in by_topic.values():
                self._queue(source, events)

    def _scan_store(self, source: EventSource, transform: V3Transform, now: float,
                    found: list[tuple[float, int, EventSource, Event]]) -> None:
        store = transform.store
        key = (source.account, transform.name)
        memo = self._memos.get(key)
        version = store.version
        if memo is not None and memo.version == version and now < memo.due:
            return
        before = memo.jobs if memo is not None else {}
        seen_now: dict[str, _Seen] = {}
        arrival = store.next_arrival(now)
        due = math.inf if arrival is None else arrival
        for job in store.visible(now):
            seen = before.get(job.id)
            if seen is None:
                seen = self._baseline(job, source.mkio)
            if seen.job is job and self._next_due(job, seen, seen.until) > now:
                seen.until = max(seen.until, now)  # nothing happened to it since
            else:
                self._advance(source, transform, job, seen, now, found)
            seen_now[job.id] = seen
            due = min(due, self._next_due(job, seen, now))
        self._memos[key] = _StoreMemo(version, due, seen_now)

    def _baseline(self, job: SimJob, mkio: bool) -> _Seen:
        """A job seen for the first time is announced from the feed's start on."""
        start = self._start
        view = view_job(job, start)
        state = JobState.Queued if view is None else view.state
        progress_from = start if state == JobState.Processing and not mkio else None
        return _Seen(job, start, state, progress_from)

    def _next_due(self, job: SimJob, seen: _Seen, after: float) -> float:
        """When the job next needs a look: its next change after `after`, or progress."""
        due = next((t for t, _ in job.events if t > after), math.inf)
        if seen.progress_from is not None and self._progress_interval is not None:
            due = min(due, seen.progress_from + self._progress_interval)
        return due

    def _advance(self, source: EventSource, transform: V3Transform, job: SimJob, seen: _Seen,
                 now: float, found: list[tuple[float, int, EventSource, Event]]) -> None:
        previous = seen.state
        changes = [(t, s) for t, s in job.events if seen.until < t <= now]
        for t, state in changes:
            if state != previous:
                self._changed(source, transform, job, t, previous, state, seen, found)
                previous = state
        happened = [(t, s) for t, s in job.events if t <= now]
        actual = happened[-1][1] if happened else JobState.Queued
        if actual != previous:  # the timeline was rewritten behind what was announced
            at = happened[-1][0] if happened else job.created
            self._changed(source, transform, job, at, previous, actual, seen, found)
            previous = actual
        seen.job, seen.state, seen.until = job, previous, max(seen.until, now)
        interval = self._progress_interval
        if (previous == JobState.Processing and not source.mkio and interval is not None
                and seen.progress_from is not None and now - seen.progress_from >= interval):
            view = view_job(job, now)
            if view is not None:
                for output in self._outputs(source, transform, view):
                    progress: dict[str, Any] = {"jobCorrelationData": _correlation(job),
                                                "label": output.get("label"),
                                                "progress": output.get("progress")}
                    found.append((now, len(found), source, self._envelope(
                        source, transform, job, "JobOutputProgress", now, progress, ZERO_ID)))
            seen.progress_from = now

    def _changed(self, source: EventSource, transform: V3Transform, job: SimJob, t: float,
                 previous: JobState, state: JobState, seen: _Seen,
                 found: list[tuple[float, int, EventSource, Event]]) -> None:
        processing = state == JobState.Processing and not source.mkio
        seen.progress_from = t if processing else None
        view = view_job(job, t)
        if view is None:
            return
        events = (self._mkio_events(source, transform, view, t, previous, state) if source.mkio
                  else self._media_events(source, transform, view, t, previous, state))
        found.extend((t, len(found) + i, source, event) for i, event in enumerate(events))

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def _outputs(self, source: EventSource, transform: V3Transform,
                 view: JobView) -> list[dict[str, Any]]:
        properties = source.resource(transform, view).get("properties", {})
        outputs = properties.get("outputs", []) if isinstance(properties, dict) else []
        return [{key: output.get(key) for key in _OUTPUT_KEYS}
                for output in outputs if isinstance(output, dict)]

    def _media_events(self, source: EventSource, transform: V3Transform, view: JobView,
                      t: float, previous: JobState, state: JobState) -> list[Event]:
        job = view.job
        events: list[Event] = []
        outputs = self._outputs(source, transform, view)
        specific = _SPECIFIC.get(state)
        if self._output_events:
            for output in outputs:
                change: dict[str, Any] = {"previousState": previous.name, "output": output,
                                          "jobCorrelationData": _correlation(job)}
                events.append(self._envelope(source, transform, job, "JobOutputStateChange",
                                             t, change))
                if specific is not None:
                    events.append(self._envelope(source, transform, job,
                                                 f"JobOutput{specific}", t, dict(change)))
        events.append(self._envelope(source, transform, job, "JobStateChange", t,
                                     {"previousState": previous.name, "state": state.name}))
        if specific is not None:
            data: dict[str, Any] = {}
            if state in FINAL_STATES:
                data["outputs"] = outputs
            data |= {"previousState": previous.name, "state": state.name,
                     "correlationData": _correlation(job)}
            events.append(self._envelope(source, transform, job, f"Job{specific}", t, data))
        return events

    def _envelope(self, source: EventSource, transform: V3Transform, job: SimJob, kind: str,
                  t: float, data: dict[str, Any], event_id: str | None = None) -> Event:
        subject = f"transforms/{transform.name}/jobs/{job.id}"
        ident = self._new_id() if event_id is None else event_id
        if self.schema == EVENTGRID:
            return {"topic": source.topic, "subject": subject, "eventType": _MEDIA + kind,
                    "eventTime": event_grid_time(t), "id": ident, "data": data,
                    "dataVersion": "1.0", "metadataVersion": "1"}
        return {"source": source.topic, "subject": subject, "type": _MEDIA + kind,
                "time": event_grid_time(t), "id": ident, "data": data, "specversion": "1.0"}

    def _mkio_events(self, source: EventSource, transform: V3Transform, view: JobView,
                     t: float, previous: JobState, state: JobState) -> list[Event]:
        if state == JobState.Processing:
            kind = "MediaKind.JobStarted"
        elif state in FINAL_STATES:
            kind = "MediaKind.JobFinished"
        else:
            return []
        job = view.job
        return [{
            "specversion": "1.0",
            "id": self._new_id(),
            "type": kind,
            "source": f"/api/v1/projects/{source.topic}/transforms/{transform.name}"
                      f"/jobs/{job.id}",
            "time": mkio_datetime(to_us(t)),
            "datacontenttype": "application/json",
            "data": {"projectName": source.topic, "previousState": previous.name,
                     "state": state.name, "resource": source.resource(transform, view)},
        }]

    # ------------------------------------------------------------ queueing

    def _queue(self, source: EventSource, events: list[Event]) -> None:
        """Reorder, duplicate and batch one poll's events of one topic (lock held)."""
        rate = self._reorder_rate
        index = 0
        while rate > 0 and index < len(events) - 1:
            if self._reorders.random() < rate:
                events[index], events[index + 1] = events[index + 1], events[index]
                self._counters.reordered += 1
                index += 2
            else:
                index += 1
        copies = [event for event in events
                  if self._duplicate_rate > 0 and self._duplicates.random() < self._duplicate_rate]
        self._counters.duplicated += len(copies)
        for group in (events, copies):
            for chunk in self._chunks(source, group):
                self._add_delivery(source, chunk)

    def _chunks(self, source: EventSource, events: list[Event]) -> list[list[Event]]:
        limit = 1 if source.mkio else self._batch
        chunks: list[list[Event]] = []
        size = 0
        for event in events:
            length = len(json.dumps(event, separators=(",", ":"))) + 1
            if (not chunks or len(chunks[-1]) >= limit
                    or size + length > self._max_batch_bytes):
                chunks.append([])
                size = 0
            chunks[-1].append(event)
            size += length
        return chunks

    def _add_delivery(self, source: EventSource, events: list[Event]) -> None:
        if source.mkio:
            single, content_type = True, CLOUDEVENT_TYPE
        elif self.schema == EVENTGRID:
            single, content_type = False, JSON_TYPE
        elif self._batch == 1:
            single, content_type = True, CLOUDEVENT_TYPE
        else:
            single, content_type = False, CLOUDEVENT_BATCH_TYPE
        self._seq += 1
        delivery = _Delivery(self._seq, source.topic, events, single, content_type,
                             not source.mkio, time.monotonic())
        self._deliveries.append(delivery)
        if delivery.event_grid and self._handshakes.get(delivery.topic) == FAILED:
            self._drop(delivery, "handshake")  # no subscription: nothing is delivered

    # ------------------------------------------------------------ sending

    def _authorization(self) -> dict[str, str]:
        """The Authorization header; a failing callable fails the request (retried)."""
        value = self._auth_header
        if value is None:
            return {}
        try:
            text = value() if callable(value) else value
        except Exception as exc:
            log.warning("simulator event feed: auth_header failed: %s", exc)
            raise _NoAuthorization(str(exc)) from exc
        if " " not in text.strip():
            text = f"Bearer {text.strip()}"  # a bare token
        return {"Authorization": text}

    def _shake_hands(self) -> None:
        now = time.monotonic()
        with self._cond:
            due = [h for h in self._pending_handshakes.values() if h.due <= now]
        for handshake in due:
            if self._stop.is_set():
                return
            self._shake(handshake)

    def _shake(self, handshake: _Handshake) -> None:
        handshake.attempts += 1
        if handshake.first_attempt is None:
            handshake.first_attempt = time.monotonic()
        with self._cond:
            self._counters.handshake_attempts += 1
        headers = {"aeg-subscription-name": SUBSCRIPTION_NAME,
                   "aeg-delivery-count": str(handshake.attempts - 1)}
        status: int | None = None
        accepted = False
        try:
            headers |= self._authorization()
            if self.schema == EVENTGRID:
                code = self._new_id()
                body = [self._validation_event(handshake.topic, code)]
                response = self._session.post(
                    self._target, data=json.dumps(body).encode("utf-8"),
                    headers=headers | {"aeg-event-type": "SubscriptionValidation",
                                       "aeg-metadata-version": "1", "aeg-data-version": "1",
                                       "Content-Type": JSON_TYPE},
                    timeout=self._timeout, allow_redirects=False)
                status = response.status_code
                accepted = status == 200 and _echoes(response, code)
            else:
                response = self._session.options(
                    self._target, headers=headers | {"WebHook-Request-Origin": VALIDATION_ORIGIN},
                    timeout=self._timeout, allow_redirects=False)
                status = response.status_code
                allowed = response.headers.get("WebHook-Allowed-Origin", "").strip()
                accepted = 200 <= status <= 204 and allowed in (VALIDATION_ORIGIN, "*")
            response.close()
        except requests.RequestException as exc:
            log.debug("simulator event feed: handshake with %s failed: %s", self.url, exc)
        with self._cond:
            if accepted:
                self._finish_handshake(handshake.topic, VALIDATED)
            elif (self._retryable(status) and handshake.attempts < self._max_attempts
                  and not self._expired(handshake.attempts, handshake.first_attempt, status)):
                handshake.due = time.monotonic() + self._delay(handshake.attempts, status)
            else:
                log.warning("simulator event feed: %s refused the subscription handshake "
                            "(HTTP %s)", self.url, status)
                self._finish_handshake(handshake.topic, FAILED)
            self._cond.notify_all()

    def _finish_handshake(self, topic: str, outcome: str) -> None:
        """Lock held."""
        self._handshakes[topic] = outcome
        self._pending_handshakes.pop(topic, None)
        if outcome == FAILED:
            for delivery in [d for d in self._deliveries if d.topic == topic and d.event_grid]:
                self._drop(delivery, "handshake")

    def _validation_event(self, topic: str, code: str) -> Event:
        now = self._clock()
        stamp = event_grid_time(now) + "Z"
        token = uuid.uuid5(uuid.NAMESPACE_URL, code).hex.upper()
        return {
            "id": self._new_id(),
            "topic": topic,
            "subject": "",
            "data": {
                "validationCode": code,
                "validationUrl": "https://rp-simulator.eventgrid.azure.net:553/"
                                 f"eventsubscriptions/{SUBSCRIPTION_NAME.lower()}/validate"
                                 f"?id={code}&t={stamp}&apiVersion=2018-05-01-preview"
                                 f"&token={token}",
            },
            "eventType": VALIDATION_TYPE,
            "eventTime": stamp,
            "metadataVersion": "1",
            "dataVersion": "1",
        }

    def _deliver(self) -> None:
        now = time.monotonic()
        with self._cond:
            due = sorted((d for d in self._deliveries if d.due <= now
                          and (not d.event_grid or self._handshakes.get(d.topic) == VALIDATED)),
                         key=lambda d: (d.due, d.seq))
        for delivery in due:
            if self._stop.is_set():
                return
            self._attempt(delivery)

    def _attempt(self, delivery: _Delivery) -> None:
        delivery.attempts += 1
        if delivery.first_attempt is None:
            delivery.first_attempt = time.monotonic()
        headers = {"Content-Type": delivery.content_type}
        if delivery.event_grid:
            headers |= {"aeg-event-type": "Notification",
                        "aeg-subscription-name": SUBSCRIPTION_NAME,
                        "aeg-delivery-count": str(delivery.attempts - 1)}
            if self.schema == EVENTGRID:
                headers |= {"aeg-metadata-version": "1", "aeg-data-version": "1.0"}
        payload: object = delivery.events[0] if delivery.single else delivery.events
        status: int | None = None
        try:
            headers |= self._authorization()
            response = self._session.post(
                self._target, data=json.dumps(payload, separators=(",", ":")).encode("utf-8"),
                headers=headers, timeout=self._timeout, allow_redirects=False)
            status = response.status_code
            response.close()
        except requests.RequestException as exc:
            log.debug("simulator event feed: delivery to %s failed: %s", self.url, exc)
        with self._cond:
            self._counters.attempts += 1
            if delivery.attempts > 1:
                self._counters.retried += 1
            if status is not None and 200 <= status <= 204:
                self._counters.delivered += len(delivery.events)
                self._counters.deliveries += 1
                self._deliveries.remove(delivery)
            elif status in NO_RETRY:
                self._drop(delivery, f"status {status}")
            elif delivery.attempts >= self._max_attempts:
                self._drop(delivery, "max_attempts")
            elif self._expired(delivery.attempts, delivery.first_attempt, status):
                self._drop(delivery, "ttl")
            else:
                delivery.due = time.monotonic() + self._delay(delivery.attempts, status)
            self._cond.notify_all()

    def _drop(self, delivery: _Delivery, reason: str) -> None:
        """Lock held."""
        self._deliveries.remove(delivery)
        self._counters.dropped += len(delivery.events)
        self._counters.drop_reasons[reason] += len(delivery.events)

    @staticmethod
    def _retryable(status: int | None) -> bool:
        return status is None or status in (408, 429) or status >= 500

    def _delay(self, attempts: int, status: int | None) -> float:
        return retry_delay(attempts, status) * self._retry_scale

    def _expired(self, attempts: int, first: float | None, status: int | None) -> bool:
        """Would the next try come after the time-to-live (scaled like the delays)?"""
        started = first if first is not None else time.monotonic()
        next_try = time.monotonic() + self._delay(attempts, status)
        return next_try - started > self._ttl * self._retry_scale


class _NoAuthorization(requests.RequestException):
    """auth_header raised: the request is not sent, and counts as failed."""


def _echoes(response: requests.Response, code: str) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    answer = next((v for k, v in body.items() if k.lower() == "validationresponse"), None)
    return answer == code


def check_settings(url: str, schema: str, batch: int, duplicate_rate: float,
                   reorder_rate: float, retry_scale: float, max_attempts: int,
                   progress_interval: float | None, timeout: float, ttl: float,
                   max_batch_bytes: int) -> None:
    """ValueError for settings Event Grid would not take."""
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ValueError(f"the events URL must be http(s)://host[:port]/path, not {url!r}")
    if schema not in SCHEMAS:
        raise ValueError(f"schema is one of {', '.join(SCHEMAS)}, not {schema!r}")
    if not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch is 1 to {MAX_BATCH} events, not {batch}")
    for name, rate in (("duplicate_rate", duplicate_rate), ("reorder_rate", reorder_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} is between 0 and 1, not {rate}")
    if not retry_scale >= 0:
        raise ValueError("retry_scale must not be negative")
    if not 1 <= max_attempts <= MAX_ATTEMPTS:
        raise ValueError(f"max_attempts is 1 to {MAX_ATTEMPTS}, not {max_attempts}")
    if progress_interval is not None and not progress_interval > 0:
        raise ValueError("progress_interval must be positive (None: no progress events)")
    if not timeout > 0 or not ttl > 0 or max_batch_bytes < 1:
        raise ValueError("timeout, ttl and max_batch_bytes must be positive")
