"""The MK.IO backend: a project's jobs with a personal API token."""

from __future__ import annotations

from exporter.backends.base import Backend, JobSource
from exporter.backends.mkio.client import MkioClient
from exporter.backends.mkio.config import MkioAccountConfig
from exporter.backends.mkio.source import MkioSource
from exporter.backends.routes import mkio_route
from exporter.backends.settings import AccountSettings
from exporter.backends.transport import Transport


class MkioBackend(Backend):
    api = "mkio"
    config_model = MkioAccountConfig

    def token_scope(self, account: AccountSettings) -> str:
        return ""  # personal API tokens are not Azure AD tokens: no scope

    def job_source(self, account: AccountSettings, transport: Transport, lookback: float,
                   max_jobs: int) -> JobSource:
        assert isinstance(account, MkioAccountConfig)
        client = MkioClient(account.endpoint, account.project, transport, max_jobs)
        return MkioSource(account, client, lookback)

    def event_routes(self, account: AccountSettings) -> tuple[str, ...]:
        assert isinstance(account, MkioAccountConfig)
        return (mkio_route(account.project),)

    def endpoint(self, account: AccountSettings) -> str:
        assert isinstance(account, MkioAccountConfig)
        return account.endpoint
