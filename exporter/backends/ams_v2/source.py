"""What a v2 account's refresh asks the API: the listing and the task details."""

from __future__ import annotations

from dataclasses import replace

from exporter.backends.ams_v2.client import V2Client, filter_clauses_for, state_clause
from exporter.backends.ams_v2.config import V2AccountConfig
from exporter.backends.odata import changed_or_active, datetime_literal
from exporter.jobs.model import Job, JobKey, Listing
from exporter.jobs.states import JobState

#: Error jobs whose tasks are looked up per refresh (for error codes); the rest wait.
MAX_ERROR_LOOKUPS_PER_REFRESH = 50


class V2Source:
    """Lists a v2 account's selected jobs and, when `progress` is on, adds task
    progress (processing jobs) and error codes (failed jobs, looked up once)."""

    def __init__(self, account: V2AccountConfig, client: V2Client, lookback: float) -> None:
        self.account = account
        self.client = client
        self.lookback = lookback
        self._error_lookups_done: set[JobKey] = set()

    #: v2 has no transforms; its aggregates carry transform="".
    known_transforms: tuple[str, ...] = ("",)

    def fetch_all(self, now: float) -> Listing:
        selection = self.account.jobs
        if selection.ids:
            state_clauses = filter_clauses_for(selection.states, None, None)
            return self.client.get_jobs_by_id(selection.ids, state_clauses)
        clauses = filter_clauses_for(selection.states, now - self.lookback,
                                     selection.name_prefix())
        return self.client.list_jobs(clauses)

    def fetch_changed(self, since: float) -> Listing | None:
        if self.account.jobs.ids:
            return None  # id batches cost the same either way
        # No state or lookback clause here: a job leaving the selected states must
        # still be seen; the refresher applies the selection to the merged result.
        changed = changed_or_active(f"LastModified gt {datetime_literal(since)}", state_clause)
        prefix = self.account.jobs.name_prefix()
        return self.client.list_jobs([changed, *filter_clauses_for(None, None, prefix)])

    def fetch_keys(self, keys: list[JobKey]) -> Listing:
        return self.client.get_jobs_by_id(tuple(job_id for _, job_id in keys))

    def enrich(self, jobs: dict[JobKey, Job], previous: dict[JobKey, Job]) -> None:
        """v2 has progress and error codes only on the tasks: one request per job."""
        if not self.account.progress:
            return
        lookups = 0
        for key, job in jobs.items():
            before = previous.get(key)
            if job.state == JobState.Processing:
                summary = self.client.get_tasks(job.job_id)
                jobs[key] = replace(job, progress=summary.progress)
            elif job.state == JobState.Finished:
                jobs[key] = replace(job, progress=1.0)
            elif job.state == JobState.Error:
                if (before is not None and before.state == JobState.Error
                        and key in self._error_lookups_done):
                    jobs[key] = replace(job, progress=before.progress, errors=before.errors)
                elif lookups < MAX_ERROR_LOOKUPS_PER_REFRESH:
                    lookups += 1
                    summary = self.client.get_tasks(job.job_id)
                    jobs[key] = replace(job, progress=summary.progress, errors=summary.errors)
                    self._error_lookups_done.add(key)
        self._error_lookups_done.intersection_update(jobs)
