"""What every account's configuration has, whatever its backend."""

from __future__ import annotations

from pydantic import Field

from exporter.backends.auth.config import AuthConfig, DefaultAuth
from exporter.config.types import Name, PositiveNumber, StrictModel
from exporter.jobs.selection import JobSelection


class AccountSettings(StrictModel):
    """One entry of `accounts`; each backend adds its own keys and its `api` tag."""

    name: Name
    api: str
    auth: AuthConfig = Field(default_factory=DefaultAuth)
    jobs: JobSelection = Field(default_factory=JobSelection)
    progress: bool = False
    max_requests_per_second: PositiveNumber = 10.0
