"""What the refresh layer is configured with: the `refresh` and `retention` sections
of the configuration file, and the policy an account's refresher reads live (a
reload hands it a new one)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import field_validator

from exporter.config.types import Duration, StrictModel


class RefreshConfig(StrictModel):
    #: A scrape within this of the last refresh is served from the snapshot.
    min_interval: Duration = 30.0
    #: A full listing this often; in between, only changed jobs are fetched.
    full_resync: Duration = 900.0
    #: Per request, and the longest a scrape waits for a refresh.
    timeout: Duration = 20.0
    #: A scrape is answered at once from a snapshot younger than this while the due
    #: refresh runs in the background; None: 3 x min_interval.
    max_staleness: Duration | None = None

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0s")
        return value


class RetentionConfig(StrictModel):
    finished: Duration = 6 * 3600.0
    failed: Duration = 24 * 3600.0


@dataclass(frozen=True)
class RefreshPolicy:
    """How often and how much an account refreshes, and how long jobs stay."""

    refresh: RefreshConfig
    retention: RetentionConfig
    #: Jobs created longer ago than this are not selected (unless active).
    lookback: float
    max_jobs_per_account: int

    @property
    def max_staleness(self) -> float:
        """How old an account's data may be and still answer a scrape without waiting
        for its due refresh (refresh.max_staleness, default 3 x min_interval)."""
        configured = self.refresh.max_staleness
        return 3 * self.refresh.min_interval if configured is None else configured
