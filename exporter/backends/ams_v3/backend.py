"""The AMS v3 backend: Media Services accounts through Azure Resource Manager, or
through any host serving the same API (Ravnur Media Services)."""

from __future__ import annotations

from exporter.backends.ams_v3.client import V3Client
from exporter.backends.ams_v3.config import V3AccountConfig
from exporter.backends.ams_v3.source import V3Source
from exporter.backends.auth.config import RmsApiKeyAuth
from exporter.backends.auth.rms import RmsApiKeyToken
from exporter.backends.auth.tokens import TokenProvider, cloud_scope
from exporter.backends.base import Backend, JobSource, SignIn
from exporter.backends.routes import arm_route
from exporter.backends.settings import AccountSettings
from exporter.backends.transport import Transport

#: ARM's resource, per cloud (the ARM endpoint's host suffix tells which).
SCOPES = {"": "https://management.azure.com/.default",
          ".chinacloudapi.cn": "https://management.chinacloudapi.cn/.default",
          ".usgovcloudapi.net": "https://management.usgovcloudapi.net/.default"}


class AmsV3Backend(Backend):
    api = "v3"
    config_model = V3AccountConfig

    def token_scope(self, account: AccountSettings) -> str:
        assert isinstance(account, V3AccountConfig)
        return cloud_scope(account.arm_endpoint, SCOPES)

    def token_provider(self, account: AccountSettings, sign_in: SignIn) -> TokenProvider:
        """RMS accounts exchange an API key for a JWT at their own host."""
        assert isinstance(account, V3AccountConfig)
        if isinstance(account.auth, RmsApiKeyAuth):
            url = account.auth.token_url or f"{account.arm_endpoint}/auth/token"
            return RmsApiKeyToken(url, account.subscription_id, account.auth, sign_in.session,
                                  timeout=sign_in.timeout, clock=sign_in.clock)
        return super().token_provider(account, sign_in)

    def job_source(self, account: AccountSettings, transport: Transport, lookback: float,
                   max_jobs: int) -> JobSource:
        assert isinstance(account, V3AccountConfig)
        client = V3Client(account.arm_endpoint, account.subscription_id,
                          account.resource_group, account.resource_name, transport,
                          max_jobs)
        return V3Source(account, client, lookback)

    def event_routes(self, account: AccountSettings) -> tuple[str, ...]:
        """Event Grid's topic is the account's resource id, or for a custom topic
        (RMS) the topic's own id, named in `events_topic`."""
        assert isinstance(account, V3AccountConfig)
        resource = (f"/subscriptions/{account.subscription_id}/resourceGroups/"
                    f"{account.resource_group}/providers/Microsoft.Media/mediaservices/"
                    f"{account.resource_name}")
        topics = [resource] + ([account.events_topic] if account.events_topic else [])
        return tuple(arm_route(topic) for topic in topics)

    def endpoint(self, account: AccountSettings) -> str:
        assert isinstance(account, V3AccountConfig)
        return account.arm_endpoint
