"""Configuration of an AMS v3 (Azure Resource Manager) account, which also fits
Ravnur Media Services: the same API on the customer's own host."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, model_validator

from exporter.backends.settings import AccountSettings
from exporter.config.types import HttpUrl, Name, Names

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"


class V3AccountConfig(AccountSettings):
    api: Literal["v3"]
    subscription_id: Name
    resource_group: Name
    #: The Media Services account's resource name; defaults to `name`.
    account_name: Name | None = None
    #: Transforms to read; empty: discover them all.
    transforms: Names = ()
    arm_endpoint: Annotated[HttpUrl, AfterValidator(lambda url: url.rstrip("/"))] = \
        DEFAULT_ARM_ENDPOINT
    progress: bool = True  # outputs carry it: no extra requests
    #: A custom Event Grid topic's id whose events belong to this account (RMS
    #: publishes the AMS job events to a topic of its own).
    events_topic: Name | None = None

    @model_validator(mode="after")
    def _default_account_name(self) -> V3AccountConfig:
        if self.account_name is None:
            object.__setattr__(self, "account_name", self.name)
        return self

    @property
    def resource_name(self) -> str:
        return self.account_name or self.name
