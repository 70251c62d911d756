"""The push endpoint's logic, apart from HTTP plumbing: authenticate a delivery,
bound it, parse it, answer handshakes, route events to accounts and apply them.

Answers (Event Grid retries anything but 400, 401, 403 and 413):
- 200 with `{"validationResponse": code}` for Event Grid's validation handshake;
- 200 for OPTIONS (the CloudEvents handshake: `WebHook-Allowed-Origin`);
- 200 once the events are applied (events of accounts not configured here are
  accepted, counted as `unknown_account` and logged once per topic);
- 401 without credentials, 413 over `max_body_bytes`, 400 for malformed JSON, and
  nothing is applied then.

Events change only jobs the account exports. A job only events name is fetched by
name first (a bounded queue per account, one fetch at a time): the API's answer
adds it, or refuses it (`unconfirmed`); keys past the queue's bound are counted
(`queue_full`) and left to the next full resync.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.backends.registry import backend_for
from exporter.common.distribution import Distribution
from exporter.events.auth import DeliveryAuth
from exporter.events.config import EventsConfig
from exporter.events.forward import FORWARDED_HEADER, Forwarder
from exporter.events.parse import MalformedDelivery, parse_delivery
from exporter.jobs.events import JobEvent
from exporter.jobs.model import JobKey
from exporter.refresh.refresher import AccountRefresher

log = logging.getLogger(__name__)

#: ams_event_delay_seconds buckets: Event Grid delivers in about a second; retries
#: come after 10 s, 30 s, 1 min, 5 min, ... up to a day.
DELAY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0,
                 86400.0)
REJECT_REASONS = ("unauthorized", "malformed", "too_large", "unknown_account", "unconfirmed",
                  "queue_full")
#: Jobs waiting to be fetched by name, per account; more are counted as queue_full.
MAX_PENDING_FETCHES = 1000
#: Keys per fetch by name (the sources batch them further: 20 names a request).
FETCH_BATCH = 200
#: Topics logged as unknown, at most this many (then silently counted).
MAX_LOGGED_TOPICS = 100
JSON_TYPES = ("application/json", "application/cloudevents+json",
              "application/cloudevents-batch+json", "text/plain")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    #: Close the connection after answering (the body was not read).
    close: bool = False


@dataclass
class EventStats:
    """The ams_event* metrics; kept across configuration reloads."""

    received: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    delays: dict[str, Distribution] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def collect(self) -> Iterator[Metric]:
        received = CounterMetricFamily("ams_events_received", "Push events accepted.",
                                       labels=["account", "type"])
        rejected = CounterMetricFamily(
            "ams_events_rejected", "Push deliveries (or events) refused, by reason.",
            labels=["reason"])
        delay = HistogramMetricFamily("ams_event_delay_seconds",
                                      "Receipt time minus event time of push events.",
                                      labels=["account"])
        with self.lock:
            for (account, kind), count in sorted(self.received.items()):
                received.add_metric([account, kind], count)
            for reason in REJECT_REASONS:
                rejected.add_metric([reason], self.rejected[reason])
            delays = dict(self.delays)
        for account, distribution in sorted(delays.items()):
            buckets, total = distribution.snapshot()
            delay.add_metric([account], buckets, total)
        yield from (received, rejected, delay)


class _Fetcher:
    """Fetches jobs events named before the account exported them: deduplicated,
    at most `limit` waiting, batched, one fetch at a time per account, in the
    background (within the account's budget)."""

    def __init__(self, refresher: AccountRefresher, reject: Callable[[str, int], None],
                 limit: int = MAX_PENDING_FETCHES) -> None:
        self.refresher = refresher
        self.limit = limit
        self._reject = reject
        self._pending: dict[JobKey, None] = {}
        self._lock = threading.Lock()
        self._running = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, keys: Sequence[JobKey]) -> int:
        """Queue the keys not queued yet; returns how many did not fit."""
        with self._lock:
            fresh = [key for key in dict.fromkeys(keys) if key not in self._pending]
            queued = fresh[:max(0, self.limit - len(self._pending))]
            self._pending.update(dict.fromkeys(queued))
            start = bool(self._pending) and not self._running
            self._running = self._running or start
        if start:
            threading.Thread(target=self._run, name=f"fetch-{self.refresher.name}",
                             daemon=True).start()
        return len(fresh) - len(queued)

    def _run(self) -> None:
        while True:
            with self._lock:
                keys = list(itertools.islice(self._pending, FETCH_BATCH))
                for key in keys:
                    del self._pending[key]
                if not keys:
                    self._running = False
                    return
            try:
                fetched = self.refresher.fetch_jobs(keys)
            except Exception as exc:  # the next refresh lists them anyway
                log.debug("account %s: fetching %d pushed jobs failed: %s",
                          self.refresher.name, len(keys), exc)
                continue
            self._reject("unconfirmed", fetched.unconfirmed)


class EventReceiver:
    def __init__(self, config: EventsConfig, refreshers: Sequence[AccountRefresher],
                 auth: DeliveryAuth, stats: EventStats,
                 clock: Callable[[], float] = time.time,
                 forwarder: Forwarder | None = None) -> None:
        self.config = config
        self.auth = auth
        self.stats = stats
        self.clock = clock
        self.forwarder = forwarder
        self.routes: dict[str, AccountRefresher] = {}
        self._fetchers: dict[str, _Fetcher] = {}
        for refresher in refreshers:
            for route in backend_for(refresher.account).event_routes(refresher.account):
                self.routes[route] = refresher
            self._fetchers[refresher.name] = _Fetcher(refresher, self._reject)
        self._logged_topics: set[str] = set()

    @property
    def path(self) -> str:
        return self.config.path

    def pending_fetches(self, account: str) -> int:
        """Jobs of the account waiting to be fetched by name."""
        return self._fetchers[account].pending

    def options(self, headers: Mapping[str, str]) -> Reply:
        """The CloudEvents webhook handshake: consent to deliveries from the origin."""
        origin = headers.get("WebHook-Request-Origin", "")
        allowed = origin if origin and len(origin) <= 255 and origin.isprintable() else "*"
        return Reply(200, b"", "text/plain; charset=utf-8",
                     (("WebHook-Allowed-Origin", allowed), ("WebHook-Allowed-Rate", "*"),
                      ("Allow", "POST, OPTIONS")))

    def authorize(self, query: Mapping[str, str], headers: Mapping[str, str]) -> Reply | None:
        """None when the delivery may proceed, else the refusal (body unread)."""
        if self.auth.accepts(query, headers):
            return None
        self._reject("unauthorized")
        return Reply(401, b'{"error": "unauthorized"}\n', close=True)

    def too_large(self) -> Reply:
        self._reject("too_large")
        return Reply(413, b'{"error": "body over max_body_bytes"}\n', close=True)

    def deliver(self, body: bytes, headers: Mapping[str, str] | None = None) -> Reply:
        """Apply an authorized delivery's body (at most max_body_bytes long); events
        of accounts another shard owns go to that shard (not if forwarded already)."""
        headers = headers or {}
        forwarded = bool(headers.get(FORWARDED_HEADER))
        received_at = self.clock()
        try:
            parsed = parse_delivery(json.loads(body))
        except (ValueError, MalformedDelivery, RecursionError):
            self._reject("malformed")
            return Reply(400, b'{"error": "malformed delivery"}\n')
        if parsed.malformed:
            with self.stats.lock:
                self.stats.rejected["malformed"] += parsed.malformed
        if parsed.validation is not None:
            log.info("events: answered an Event Grid subscription validation")
            answer = json.dumps({"validationResponse": parsed.validation.code})
            return Reply(200, answer.encode())
        by_account: dict[str, list[JobEvent]] = {}
        refreshers: dict[str, AccountRefresher] = {}
        elsewhere: list[JobEvent] = []
        for event in parsed.events:
            refresher = next((self.routes[r] for r in event.routes if r in self.routes), None)
            if refresher is None:
                if (self.forwarder is not None and not forwarded
                        and self.forwarder.owner(event) is not None):
                    elsewhere.append(event)
                else:
                    self._unknown(event)
                continue
            by_account.setdefault(refresher.name, []).append(event)
            refreshers[refresher.name] = refresher
        for name, events in by_account.items():
            unknown = refreshers[name].apply_events(events, received_at)
            if unknown:
                self._reject("queue_full", self._fetchers[name].add(unknown))
            self._count(name, events, received_at)
        if elsewhere and self.forwarder is not None \
                and not self.forwarder.forward(elsewhere, headers):
            return Reply(503, b'{"error": "the owning shard is unreachable; retry"}\n',
                         headers=(("Retry-After", "10"),))
        return Reply(200, b'{"accepted": %d, "forwarded": %d}\n'
                     % (sum(len(e) for e in by_account.values()), len(elsewhere)))

    def _count(self, account: str, events: list[JobEvent], received_at: float) -> None:
        with self.stats.lock:
            for event in events:
                self.stats.received[(account, event.type)] += 1
            delays = self.stats.delays.setdefault(account, Distribution(DELAY_BUCKETS))
        for event in events:
            delays.observe(max(0.0, received_at - event.time))

    def _reject(self, reason: str, count: int = 1) -> None:
        if count:
            with self.stats.lock:
                self.stats.rejected[reason] += count

    def _unknown(self, event: JobEvent) -> None:
        self._reject("unknown_account")
        topic = event.routes[0]
        if topic not in self._logged_topics and len(self._logged_topics) < MAX_LOGGED_TOPICS:
            self._logged_topics.add(topic)
            log.warning("events: no configured account for %s (events for it are counted "
                        "as unknown_account and dropped)", topic.split(":", 1)[1][:200])
