"""Builds the exposition from the accounts' last good data, at scrape time.

Ages and running durations of active jobs use the clock of the scrape, so they
move between refreshes.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from exporter import __version__
from exporter.account import AccountRefresher
from exporter.api_stats import ApiStats
from exporter.model import Job
from exporter.states import JobState

JOB_LABELS = ["account", "transform", "job_id", "job_name"]
QUEUE_STATES = (JobState.Queued, JobState.Scheduled, JobState.Processing)
SKIP_REASONS = ("malformed", "limit")


@dataclass(frozen=True)
class AccountView:
    """An account as the collector needs it: its jobs and its API statistics."""

    refresher: AccountRefresher
    api: ApiStats


class JobCollector:
    """A prometheus_client custom collector over the accounts' snapshots."""

    def __init__(self, accounts: Sequence[AccountView], clock: Callable[[], float]) -> None:
        self.accounts = accounts
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        families = _JobFamilies()
        for view in self.accounts:
            jobs = view.refresher.jobs(now)
            for job in jobs:
                families.add_job(view.refresher.name, job, now)
            families.add_aggregates(view.refresher.name, view.refresher.transforms, jobs, now)
        yield from families.all()
        yield from self._health()
        build = GaugeMetricFamily("ams_exporter_build_info",
                                  "Build information of the exporter; always 1.",
                                  labels=["version", "python_version"])
        build.add_metric([__version__, platform.python_version()], 1)
        yield build

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
        transitions = CounterMetricFamily(
            "ams_job_transitions", "Job state changes the exporter observed "
            "(first sight counts as entering the state).",
            labels=["account", "transform", "to_state"])
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
            up.add_metric([name], 1 if status.up else 0)
            stale.add_metric([name], 1 if status.stale else 0)
            if status.last_success is not None:
                success.add_metric([name], status.last_success)
            duration.add_metric([name], status.last_duration)
            seen = dict(status.transitions)
            for transform in sorted({*view.refresher.transforms, *(t for t, _ in seen)}):
                for state in JobState:
                    transitions.add_metric([name, transform, state.name],
                                           seen.get((transform, state), 0))
            for reason in SKIP_REASONS:
                skipped.add_metric([name, reason], status.skipped[reason])
            by_code, throttle_count, buckets, total = view.api.snapshot()
            for code, count in sorted(by_code.items()):
                requests.add_metric([name, code], count)
            throttled.add_metric([name], throttle_count)
            latency.add_metric([name], buckets, total)
        yield from (up, stale, success, duration, transitions, skipped, requests, throttled,
                    latency)


class _JobFamilies:
    """The per-job and aggregate families of one scrape."""

    def __init__(self) -> None:
        gauge = GaugeMetricFamily
        self.state = gauge("ams_job_state", "1 for the job's current state, 0 for the others.",
                           labels=[*JOB_LABELS, "state"])
        self.state_code = gauge("ams_job_state_code",
                                "The job's state as its v2 number (0 Queued .. 6 Canceling).",
                                labels=JOB_LABELS)
        self.age = gauge("ams_job_age_seconds", "Seconds since the job was created.",
                         labels=JOB_LABELS)
        self.running = gauge("ams_job_running_duration_seconds",
                             "Seconds the job has been running (frozen once final).",
                             labels=JOB_LABELS)
        self.progress = gauge("ams_job_progress_ratio", "Job progress from 0 to 1, when known.",
                              labels=JOB_LABELS)
        self.priority = gauge("ams_job_priority", "Job priority (v3: Low=0, Normal=1, High=2).",
                              labels=JOB_LABELS)
        self.created = gauge("ams_job_created_timestamp_seconds",
                             "Unix time the job was created.", labels=JOB_LABELS)
        self.started = gauge("ams_job_start_timestamp_seconds",
                             "Unix time the job started processing.", labels=JOB_LABELS)
        self.ended = gauge("ams_job_end_timestamp_seconds",
                           "Unix time the job reached a final state.", labels=JOB_LABELS)
        self.modified = gauge("ams_job_last_modified_timestamp_seconds",
                              "Unix time the job was last modified.", labels=JOB_LABELS)
        self.info = gauge("ams_job_info", "Static job metadata; always 1.",
                          labels=[*JOB_LABELS, "template_id", "priority"])
        self.errors = gauge("ams_job_error_info", "1 per distinct error code of a failed job.",
                            labels=[*JOB_LABELS, "code", "category"])
        self.count = gauge("ams_jobs", "Number of exported jobs in each state.",
                           labels=["account", "transform", "state"])
        self.oldest = gauge("ams_job_oldest_age_seconds",
                            "Age of the oldest job in the state (0 when there is none).",
                            labels=["account", "transform", "state"])

    def add_job(self, account: str, job: Job, now: float) -> None:
        labels = [account, job.transform, job.job_id, job.name]
        for state in JobState:
            self.state.add_metric([*labels, state.name], 1 if state == job.state else 0)
        self.state_code.add_metric(labels, int(job.state))
        self.age.add_metric(labels, job.age(now))
        self.running.add_metric(labels, job.running_duration(now))
        if job.progress is not None:
            self.progress.add_metric(labels, job.progress)
        self.priority.add_metric(labels, job.priority)
        self.created.add_metric(labels, job.created)
        if job.start_time is not None:
            self.started.add_metric(labels, job.start_time)
        if job.state.is_final and job.end_time is not None:
            self.ended.add_metric(labels, job.end_time)
        if job.last_modified is not None:
            self.modified.add_metric(labels, job.last_modified)
        self.info.add_metric([*labels, job.template_id, str(job.priority)], 1)
        for error in job.errors:
            self.errors.add_metric([*labels, error.code, error.category], 1)

    def add_aggregates(self, account: str, known_transforms: tuple[str, ...], jobs: list[Job],
                       now: float) -> None:
        for transform in sorted({*known_transforms, *(job.transform for job in jobs)}):
            mine = [job for job in jobs if job.transform == transform]
            for state in JobState:
                self.count.add_metric([account, transform, state.name],
                                      sum(1 for job in mine if job.state == state))
            for state in QUEUE_STATES:
                ages = [job.age(now) for job in mine if job.state == state]
                self.oldest.add_metric([account, transform, state.name], max(ages, default=0.0))

    def all(self) -> tuple[Metric, ...]:
        return (self.state, self.state_code, self.age, self.running, self.progress,
                self.priority, self.created, self.started, self.ended, self.modified,
                self.info, self.errors, self.count, self.oldest)
