"""Configuration of an AMS v2 (OData REST) account."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from exporter.backends.settings import AccountSettings
from exporter.config.types import HttpUrl


class V2AccountConfig(AccountSettings):
    api: Literal["v2"] = "v2"
    #: The account's REST endpoint, e.g. https://myacct.restv2.westeurope.media.azure.net/api/
    endpoint: Annotated[HttpUrl, AfterValidator(lambda url: url if url.endswith("/")
                                                else url + "/")]
    odata_format: Literal["light", "verbose"] = "light"
