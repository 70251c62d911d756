"""The MK.IO backend: a project's jobs with a personal API token."""

from __future__ import annotations

from exporter.backends.arm_source import ArmSource
from exporter.backends.base import Backend, JobSource
from exporter.backends.event_items import EventItem
from exporter.backends.mkio.client import MKIO_FILTERS, MkioClient
from exporter.backends.mkio.config import MkioAccountConfig
from exporter.backends.mkio.events import EVENT_TYPES, mkio_job_event, mkio_route
from exporter.backends.mkio.source import SeenTransforms
from exporter.backends.transport import Transport
from exporter.jobs.events import JobEvent


class MkioBackend(Backend[MkioAccountConfig]):
    api = "mkio"
    config_model = MkioAccountConfig
    event_types = EVENT_TYPES

    def token_scope(self, account: MkioAccountConfig) -> str:
        return ""  # personal API tokens are not Azure AD tokens: no scope

    def job_source(self, account: MkioAccountConfig, transport: Transport, lookback: float,
                   max_jobs: int, correlation_keys: tuple[str, ...] = ()) -> JobSource:
        client = MkioClient(account.endpoint, account.project, transport, max_jobs,
                            correlation_keys)
        return ArmSource(account.jobs, client, MKIO_FILTERS,
                         SeenTransforms(account.transforms), lookback)

    def event_routes(self, account: MkioAccountConfig) -> tuple[str, ...]:
        return (mkio_route(account.project),)

    def parse_event(self, item: EventItem) -> JobEvent:
        return mkio_job_event(item)
