"""The AMS v2 backend: OData REST accounts, as in the seed document."""

from __future__ import annotations

from exporter.backends.ams_v2.client import V2Client
from exporter.backends.ams_v2.config import V2AccountConfig
from exporter.backends.ams_v2.source import V2Source
from exporter.backends.auth.tokens import cloud_scope
from exporter.backends.base import Backend, JobSource
from exporter.backends.transport import Transport


class AmsV2Backend(Backend[V2AccountConfig]):
    """v2 sends no push events: its accounts are polled only."""

    api = "v2"
    config_model = V2AccountConfig

    def token_scope(self, account: V2AccountConfig) -> str:
        return cloud_scope(account.endpoint, "rest.media", "azure.net")

    def job_source(self, account: V2AccountConfig, transport: Transport, lookback: float,
                   max_jobs: int, correlation_keys: tuple[str, ...] = ()) -> JobSource:
        """v2 jobs have no correlationData: their correlation labels are empty."""
        client = V2Client(account.endpoint, transport, account.odata_format, max_jobs)
        return V2Source(account, client, lookback)
