"""Configuration of an AMS v2 (OData REST) account."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, field_validator

from exporter.backends.auth.config import AuthBase, RmsApiKeyAuth
from exporter.backends.settings import AccountSettings
from exporter.config.types import HttpUrl


class V2AccountConfig(AccountSettings):
    api: Literal["v2"] = "v2"
    #: The account's REST endpoint, e.g. https://myacct.restv2.westeurope.media.azure.net/api/
    endpoint: Annotated[HttpUrl, AfterValidator(lambda url: url if url.endswith("/")
                                                else url + "/")]
    odata_format: Literal["light", "verbose"] = "light"

    @field_validator("auth")
    @classmethod
    def _not_rms(cls, auth: AuthBase) -> AuthBase:
        if isinstance(auth, RmsApiKeyAuth):  # would fail only at the first sign-in
            raise ValueError("rms_api_key signs in to Ravnur RMS, an AMS v3 API: use "
                             "api: v3 for an RMS account")
        return auth
