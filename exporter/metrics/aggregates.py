"""The aggregates, distributions and health of the accounts, and the build and
reload information: the small families, built per scrape with prometheus_client
(the per-job families are rendered apart: exporter.metrics.per_job).

`ams_job_oldest_age_seconds` is computed at the scrape's clock.

With correlation labels (`metrics.correlation_labels`), the job aggregates and
distributions carry them after their own labels, and every (account, transform)
has its zeros for each combination of label values seen on it since the account
was built (the combinations `ams_job_transitions_total` has series for); a
transform with none has them for the empty values.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.common.distribution import JOB_SECONDS_BUCKETS, Distribution
from exporter.jobs.states import JobState
from exporter.metrics.api_stats import ApiStats
from exporter.refresh.refresher import AccountRefresher
from exporter.refresh.snapshot import Snapshot

QUEUE_STATES = (JobState.Queued, JobState.Scheduled, JobState.Processing)
FINAL_STATES_ORDERED = (JobState.Finished, JobState.Error, JobState.Canceled)
SKIP_REASONS = ("malformed", "limit")


@dataclass(frozen=True)
class AccountView:
    """An account as the collector needs it: its jobs and its API statistics."""

    refresher: AccountRefresher
    api: ApiStats
    #: What the account was built from (app.accounts): a reload that changes none of
    #: it keeps the account, its jobs and its counters.
    built_from: tuple[object, ...] = ()


@dataclass
class ReloadStatus:
    """Outcome of the last configuration reload, for ams_config_last_reload_*."""

    successful: bool = True
    last_success: float = field(default_factory=time.time)


class Aggregates(Collector):
    """The small families of one scrape, a collector made per scrape: from the
    snapshots the scrape read (its per-job series come from a render of these or
    newer ones) and the accounts' counters, at the scrape's clock."""

    def __init__(self, accounts: Sequence[AccountView], snapshots: Sequence[Snapshot],
                 now: float, reload_status: ReloadStatus | None = None,
                 correlation_labels: tuple[str, ...] = ()) -> None:
        self.accounts = accounts
        self.snapshots = snapshots
        self.now = now
        self.reload_status = reload_status
        self.correlation_labels = correlation_labels
        #: Per account, per transform: the combinations of correlation label values
        #: seen on it (see the module doc).
        self._combinations = [_combinations(view, snapshot)
                              for view, snapshot in zip(accounts, snapshots, strict=True)]
        self._blank = [("",) * len(correlation_labels)]

    def _values(self, index: int, transform: str) -> list[tuple[str, ...]]:
        """The correlation label values of the transform's rows on account `index`."""
        return self._combinations[index].get(transform) or self._blank

    def segments(self) -> list[tuple[Hashable | None, Callable[[], Iterator[Metric]]]]:
        """The families in exposition order, in segments. A segment with a key shows
        the same families as long as its key is the same (the snapshots and the
        accounts' job counters), so its encoding may be kept; with correlation
        labels these are tens of thousands of series. The others are built every
        scrape (moving ages, health, counters of requests)."""
        jobs = self._jobs_key()
        return [(("counts", jobs), self._counts), (None, self._oldest),
                (("distributions", jobs), self._distributions), (None, self._health),
                (("transitions", jobs), self._transitions), (None, self._rest)]

    def collect(self) -> Iterator[Metric]:
        for _, families in self.segments():
            yield from families()

    def _jobs_key(self) -> Hashable:
        """What the job aggregates, transitions and distributions depend on."""
        key: list[Hashable] = []
        for view, snapshot in zip(self.accounts, self.snapshots, strict=True):
            status = view.refresher.status
            key.append((snapshot.generation, frozenset(view.refresher.transforms),
                        len(status.transitions), sum(status.transitions.values()),
                        sum(d.count for d in status.durations.values()),
                        sum(d.count for d in status.queue_durations.values())))
        return tuple(key)

    def _rows(self) -> Iterator[tuple[int, AccountRefresher, Snapshot, str, tuple[str, ...]]]:
        """(account index, refresher, snapshot, transform, label values) of every row
        of the job aggregates."""
        for index, (view, snapshot) in enumerate(zip(self.accounts, self.snapshots,
                                                     strict=True)):
            refresher = view.refresher
            seen = {transform for transform, _, _ in snapshot.counts}
            for transform in sorted({*refresher.transforms, *seen}):
                for values in self._values(index, transform):
                    yield index, refresher, snapshot, transform, values

    def _counts(self) -> Iterator[Metric]:
        count = GaugeMetricFamily("ams_jobs", "Number of exported jobs in each state.",
                                  labels=["account", "transform", "state",
                                          *self.correlation_labels])
        for _, refresher, snapshot, transform, values in self._rows():
            for state in JobState:
                count.add_metric([refresher.name, transform, state.name, *values],
                                 snapshot.counts[(transform, state, values)])
        yield count

    def _oldest(self) -> Iterator[Metric]:
        now = self.now
        oldest = GaugeMetricFamily("ams_job_oldest_age_seconds",
                                   "Age of the oldest job in the state (0 when there is none).",
                                   labels=["account", "transform", "state",
                                           *self.correlation_labels])
        for _, refresher, snapshot, transform, values in self._rows():
            for state in QUEUE_STATES:
                created = snapshot.oldest_created.get((transform, state, values))
                age = 0.0 if created is None else max(0.0, now - created)
                oldest.add_metric([refresher.name, transform, state.name, *values], age)
        yield oldest

    def _build_and_reload(self) -> Iterator[Metric]:
        build = GaugeMetricFamily("ams_exporter_build_info",
                                  "Build information of the exporter; always 1.",
                                  labels=["version", "python_version"])
        build.add_metric([__version__, platform.python_version()], 1)
        yield build
        if self.reload_status is not None:
            reloaded = GaugeMetricFamily("ams_config_last_reload_successful",
                                         "1 when the last configuration reload succeeded.")
            reloaded.add_metric([], 1 if self.reload_status.successful else 0)
            yield reloaded
            when = GaugeMetricFamily("ams_config_last_reload_success_timestamp_seconds",
                                     "Unix time of the last successful configuration load.")
            when.add_metric([], self.reload_status.last_success)
            yield when

    def _distributions(self) -> Iterator[Metric]:
        extra = list(self.correlation_labels)
        durations = HistogramMetricFamily(
            "ams_job_duration_seconds", "StartTime to EndTime of the jobs the exporter saw "
            "reaching Finished, Error or Canceled (each job once).",
            labels=["account", "transform", "state", *extra])
        queued = HistogramMetricFamily(
            "ams_job_queue_duration_seconds", "Created to StartTime of the jobs the exporter "
            "saw starting (each job once).", labels=["account", "transform", *extra])
        empty = Distribution(JOB_SECONDS_BUCKETS).snapshot()
        for index, view in enumerate(self.accounts):
            name = view.refresher.name
            status = view.refresher.status
            transforms = sorted({*view.refresher.transforms,
                                 *(t for t, _, _ in status.durations),
                                 *(t for t, _ in status.queue_durations)})
            for transform in transforms:
                for values in self._values(index, transform):
                    for state in FINAL_STATES_ORDERED:
                        seen = status.durations.get((transform, state, values))
                        buckets, total = seen.snapshot() if seen is not None else empty
                        durations.add_metric([name, transform, state.name, *values], buckets,
                                             total)
                    seen_queue = status.queue_durations.get((transform, values))
                    buckets, total = seen_queue.snapshot() if seen_queue is not None else empty
                    queued.add_metric([name, transform, *values], buckets, total)
        yield durations
        yield queued

    def _health(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ams_up", "1 when the account's last refresh succeeded.",
                               labels=["account"])
        stale = GaugeMetricFamily(
            "ams_stale", "1 when the account's exported jobs are not from a current refresh "
            "(the last one failed, or one is still running past the scrape deadline).",
            labels=["account"])
        success = GaugeMetricFamily(
            "ams_last_refresh_success_timestamp_seconds",
            "Unix time of the account's last successful refresh.", labels=["account"])
        duration = GaugeMetricFamily("ams_refresh_duration_seconds",
                                     "Duration of the account's last refresh.",
                                     labels=["account"])
        for view in self.accounts:
            name = view.refresher.name
            status = view.refresher.status
            up.add_metric([name], 1 if status.up else 0)
            stale.add_metric([name], 1 if status.stale else 0)
            if status.last_success is not None:
                success.add_metric([name], status.last_success)
            duration.add_metric([name], status.last_duration)
        yield from (up, stale, success, duration)

    def _transitions(self) -> Iterator[Metric]:
        transitions = CounterMetricFamily(
            "ams_job_transitions", "Job state changes the exporter observed "
            "(first sight counts as entering the state).",
            labels=["account", "transform", "to_state", *self.correlation_labels])
        for index, view in enumerate(self.accounts):
            name = view.refresher.name
            seen = dict(view.refresher.status.transitions)
            for transform in sorted({*view.refresher.transforms, *(t for t, _, _ in seen)}):
                for values in self._values(index, transform):
                    for state in JobState:
                        transitions.add_metric([name, transform, state.name, *values],
                                               seen.get((transform, state, values), 0))
        yield transitions

    def _rest(self) -> Iterator[Metric]:
        skipped = CounterMetricFamily("ams_jobs_skipped",
                                      "Job records dropped, by reason (malformed, limit).",
                                      labels=["account", "reason"])
        requests = CounterMetricFamily("ams_api_requests",
                                       "HTTP requests to AMS by status code "
                                       "(error for transport failures).",
                                       labels=["account", "code"])
        throttled = CounterMetricFamily("ams_api_throttled",
                                        "Throttling answers (429/503) from AMS.",
                                        labels=["account"])
        latency = HistogramMetricFamily("ams_api_request_duration_seconds",
                                        "Duration of HTTP requests to AMS.",
                                        labels=["account"])
        for view in self.accounts:
            name = view.refresher.name
            status = view.refresher.status
            for reason in SKIP_REASONS:
                skipped.add_metric([name, reason], status.skipped[reason])
            by_code, throttle_count, buckets, total = view.api.snapshot()
            for code, count in sorted(by_code.items()):
                requests.add_metric([name, code], count)
            throttled.add_metric([name], throttle_count)
            latency.add_metric([name], buckets, total)
        yield from (skipped, requests, throttled, latency)
        if self.correlation_labels:
            yield self._overflow()
        yield from self._build_and_reload()

    def _overflow(self) -> Metric:
        overflow = CounterMetricFamily(
            "ams_correlation_label_overflow", "Jobs whose correlation label reads __other__ "
            "because the label already had metrics.correlation_label_limit values.",
            labels=["account", "label"])
        for view in self.accounts:
            counted = view.refresher.status.correlation_overflow
            for label in self.correlation_labels:
                overflow.add_metric([view.refresher.name, label], counted[label])
        return overflow


def _combinations(view: AccountView, snapshot: Snapshot) -> dict[str, list[tuple[str, ...]]]:
    """Per transform, the correlation label values seen on it, sorted: those of the
    jobs exported now and of every job seen since the account was built."""
    seen: dict[str, set[tuple[str, ...]]] = {}
    groups: Iterable[tuple[str, object, tuple[str, ...]]] = (
        *snapshot.counts, *view.refresher.status.transitions)
    for transform, _, values in groups:
        seen.setdefault(transform, set()).add(values)
    return {transform: sorted(values) for transform, values in seen.items()}
