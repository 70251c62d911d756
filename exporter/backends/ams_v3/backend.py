"""The AMS v3 backend: Media Services accounts through Azure Resource Manager, or
through any host serving the same API (Ravnur Media Services)."""

from __future__ import annotations

from exporter.backends.ams_v3.client import V3_FILTERS, V3Client
from exporter.backends.ams_v3.config import V3AccountConfig
from exporter.backends.ams_v3.events import EVENT_TYPES, arm_route, media_job_event
from exporter.backends.ams_v3.source import DiscoveredTransforms
from exporter.backends.arm_source import ArmSource
from exporter.backends.auth.config import RmsApiKeyAuth
from exporter.backends.auth.rms import RmsApiKeyToken
from exporter.backends.auth.tokens import TokenProvider, cloud_scope
from exporter.backends.base import Backend, JobSource, SignIn
from exporter.backends.event_items import EventItem
from exporter.backends.transport import Transport
from exporter.jobs.events import JobEvent


class AmsV3Backend(Backend[V3AccountConfig]):
    api = "v3"
    config_model = V3AccountConfig
    event_types = EVENT_TYPES

    def token_scope(self, account: V3AccountConfig) -> str:
        return cloud_scope(account.arm_endpoint, "management", "azure.com")

    def token_provider(self, account: V3AccountConfig, sign_in: SignIn) -> TokenProvider:
        """RMS accounts exchange an API key for a JWT at their own host."""
        if isinstance(account.auth, RmsApiKeyAuth):
            url = account.auth.token_url or f"{account.arm_endpoint}/auth/token"
            return RmsApiKeyToken(url, account.subscription_id, account.auth, sign_in.session,
                                  timeout=sign_in.timeout, clock=sign_in.clock)
        return super().token_provider(account, sign_in)

    def job_source(self, account: V3AccountConfig, transport: Transport, lookback: float,
                   max_jobs: int, correlation_keys: tuple[str, ...] = ()) -> JobSource:
        client = V3Client(account.arm_endpoint, account.subscription_id,
                          account.resource_group, account.resource_name, transport,
                          max_jobs, correlation_keys)
        transforms = DiscoveredTransforms(account.transforms, client.list_transforms)
        return ArmSource(account.jobs, client, V3_FILTERS, transforms, lookback)

    def event_routes(self, account: V3AccountConfig) -> tuple[str, ...]:
        """Event Grid's topic is the account's resource id, or for a custom topic
        (RMS) the topic's own id, named in `events_topic`."""
        resource = (f"/subscriptions/{account.subscription_id}/resourceGroups/"
                    f"{account.resource_group}/providers/Microsoft.Media/mediaservices/"
                    f"{account.resource_name}")
        topics = [resource] + ([account.events_topic] if account.events_topic else [])
        return tuple(arm_route(topic) for topic in topics)

    def parse_event(self, item: EventItem) -> JobEvent:
        return media_job_event(item)
