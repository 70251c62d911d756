"""The `events` section of the configuration (SPEC §11)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from exporter.config.types import ByteSize, HttpUrl, Name, StrictModel, Text

#: The app ids Event Grid's deliveries carry (public cloud, US Government).
EVENT_GRID_APP_IDS = ("4962773b-9cdb-44cf-a8bf-237846a00ab7",
                      "54316b56-3481-47f9-8f30-0300f5542a7b")


def _path(value: str) -> str:
    if not value.startswith("/") or "?" in value or "#" in value:
        raise ValueError("expected a path such as /events")
    return value


class EntraConfig(StrictModel):
    """Validate the Microsoft Entra bearer token Event Grid sends."""

    tenant_id: Name
    #: The `aud` the token must carry: the webhook app's id or its id URI.
    audience: Annotated[tuple[Name, ...], Field(min_length=1)] | Name
    #: Where the tenant's keys and issuers live (another cloud, or a test authority).
    authority: Annotated[HttpUrl, AfterValidator(lambda url: url.rstrip("/"))] = \
        "https://login.microsoftonline.com"
    #: `appid`/`azp` values accepted: Event Grid's own application by default.
    allowed_client_ids: tuple[Name, ...] = EVENT_GRID_APP_IDS

    @property
    def audiences(self) -> tuple[str, ...]:
        return self.audience if isinstance(self.audience, tuple) else (self.audience,)


class EventsConfig(StrictModel):
    enabled: bool = False
    path: Annotated[Text, AfterValidator(_path)] = "/events"
    #: Shared secrets; a delivery carries one as query `secret=` or header
    #: `X-Events-Secret`. Several at once allow rotation.
    secrets: tuple[Name, ...] = ()
    entra: EntraConfig | None = None
    max_body_bytes: ByteSize = 2 * 1024 * 1024
    #: Accept deliveries without any authentication (tests, demos). Never in production.
    insecure_no_auth: bool = False

    @model_validator(mode="after")
    def _some_auth(self) -> EventsConfig:
        if self.enabled and not (self.secrets or self.entra or self.insecure_no_auth):
            raise ValueError("push events need secrets or entra (or, for tests and demos "
                             "only, insecure_no_auth: true)")
        return self
