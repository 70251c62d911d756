"""The AMS v2 backend: OData REST accounts, as in the seed document."""

from __future__ import annotations

from exporter.backends.ams_v2.client import V2Client
from exporter.backends.ams_v2.config import V2AccountConfig
from exporter.backends.ams_v2.source import V2Source
from exporter.backends.auth.tokens import cloud_scope
from exporter.backends.base import Backend, JobSource
from exporter.backends.settings import AccountSettings
from exporter.backends.transport import Transport

#: The v2 API's resource, per cloud (the endpoint's host suffix tells which).
SCOPES = {"": "https://rest.media.azure.net/.default",
          ".chinacloudapi.cn": "https://rest.media.chinacloudapi.cn/.default",
          ".usgovcloudapi.net": "https://rest.media.usgovcloudapi.net/.default"}


class AmsV2Backend(Backend):
    api = "v2"
    config_model = V2AccountConfig

    def token_scope(self, account: AccountSettings) -> str:
        assert isinstance(account, V2AccountConfig)
        return cloud_scope(account.endpoint, SCOPES)

    def job_source(self, account: AccountSettings, transport: Transport, lookback: float,
                   max_jobs: int) -> JobSource:
        assert isinstance(account, V2AccountConfig)
        client = V2Client(account.endpoint, transport, account.odata_format, max_jobs)
        return V2Source(account, client, lookback)

    def endpoint(self, account: AccountSettings) -> str:
        assert isinstance(account, V2AccountConfig)
        return account.endpoint
