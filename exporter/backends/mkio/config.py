"""Configuration of a MediaKind MK.IO project."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, field_validator

from exporter.backends.auth.config import AuthBase, NoAuth, TokenAuth, TokenFileAuth
from exporter.backends.settings import AccountSettings
from exporter.config.types import HttpUrl, Name, Names, PositiveNumber

DEFAULT_ENDPOINT = "https://app.mk.io"
#: MK.IO allows 2,000 GET requests per minute per project.
DEFAULT_REQUESTS_PER_SECOND = 2000 / 60


class MkioAccountConfig(AccountSettings):
    api: Literal["mkio"]
    project: Name
    endpoint: Annotated[HttpUrl, AfterValidator(lambda url: url.rstrip("/"))] = DEFAULT_ENDPOINT
    #: Transforms to list one by one; empty: every job of the project in one listing.
    transforms: Names = ()
    progress: bool = True  # outputs carry it: no extra requests
    max_requests_per_second: PositiveNumber = DEFAULT_REQUESTS_PER_SECOND

    @field_validator("auth")
    @classmethod
    def _personal_token(cls, auth: AuthBase) -> AuthBase:
        if not isinstance(auth, TokenFileAuth | TokenAuth | NoAuth):
            raise ValueError("MK.IO signs in with a personal API token: use method "
                             "token_file (or token)")
        return auth
