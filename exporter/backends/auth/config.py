"""The `auth` section of an account: one model per sign-in method, each knowing the
token provider (and, for azure-identity methods, the credential) it signs in with,
listed once in AUTH_MODELS.

Optional keys may also come from the AZURE_* environment variables azure-identity
reads; those are looked up when the credential is built, not here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import model_validator

from exporter.backends.auth import credentials
from exporter.backends.auth.credentials import CredentialFactory, failure_hint
from exporter.backends.auth.errors import AuthError
from exporter.backends.auth.tokens import (
    CredentialToken,
    NoToken,
    StaticToken,
    TokenFile,
    TokenProvider,
)
from exporter.backends.unions import tagged_union
from exporter.config.types import HttpUrl, StrictModel, Text


class AuthBase(StrictModel):
    """A sign-in method. By default its tokens come from the azure-identity
    credential it builds; methods that sign in otherwise override token_provider."""

    method: str

    @property
    def options(self) -> Mapping[str, str]:
        """The keys that are set, method excluded (what credential builders read)."""
        return {key: value for key, value in self.model_dump(exclude={"method"}).items()
                if value}

    def token_provider(self, scope: str, build_credential: CredentialFactory,
                       environ: Mapping[str, str]) -> TokenProvider:
        """Tokens for `scope`. Token lifetimes are real time (azure-identity reports
        expiry as Unix time), whatever clock drives the job ages."""
        return CredentialToken(lambda: build_credential(self), scope, time.time,
                               describe=f"auth method {self.method}",
                               hint=failure_hint(self, environ))

    def credential(self, environ: Mapping[str, str]) -> Any:
        """The azure-identity credential of this method."""
        raise AuthError(f"auth method {self.method} has no azure-identity credential")


class DefaultAuth(AuthBase):
    method: Literal["default"] = "default"
    client_id: Text | None = None
    authority_host: Text | None = None

    def credential(self, environ: Mapping[str, str]) -> Any:
        return credentials.default_credential(self.options, environ)


class ClientSecretAuth(AuthBase):
    method: Literal["client_secret"]
    tenant_id: Text | None = None
    client_id: Text | None = None
    client_secret: Text | None = None
    client_secret_file: Text | None = None
    authority_host: Text | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> ClientSecretAuth:
        if self.client_secret and self.client_secret_file:
            raise ValueError("give client_secret or client_secret_file, not both")
        return self

    def credential(self, environ: Mapping[str, str]) -> Any:
        return credentials.client_secret_credential(self.options, environ)


class ManagedIdentityAuth(AuthBase):
    method: Literal["managed_identity"]
    client_id: Text | None = None

    def credential(self, environ: Mapping[str, str]) -> Any:
        return credentials.managed_identity_credential(self.options, environ)


class WorkloadIdentityAuth(AuthBase):
    method: Literal["workload_identity"]
    tenant_id: Text | None = None
    client_id: Text | None = None
    token_file: Text | None = None
    authority_host: Text | None = None

    def credential(self, environ: Mapping[str, str]) -> Any:
        return credentials.workload_identity_credential(self.options, environ)


class AzureCliAuth(AuthBase):
    method: Literal["azure_cli"]

    def credential(self, environ: Mapping[str, str]) -> Any:
        return credentials.azure_cli_credential(self.options, environ)


class TokenFileAuth(AuthBase):
    method: Literal["token_file"]
    path: Text

    def token_provider(self, scope: str, build_credential: CredentialFactory,
                       environ: Mapping[str, str]) -> TokenProvider:
        return TokenFile(self.path)


class TokenAuth(AuthBase):
    method: Literal["token"]
    token: Text

    def token_provider(self, scope: str, build_credential: CredentialFactory,
                       environ: Mapping[str, str]) -> TokenProvider:
        return StaticToken(self.token)


class RmsApiKeyAuth(AuthBase):
    """An RMS API key, exchanged at the account's RMS host (the v3 backend signs in
    with it; elsewhere it has no credential)."""

    method: Literal["rms_api_key"]
    api_key: Text | None = None
    api_key_file: Text | None = None
    token_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _one_key(self) -> RmsApiKeyAuth:
        if bool(self.api_key) == bool(self.api_key_file):
            raise ValueError("give exactly one of api_key and api_key_file")
        return self


class NoAuth(AuthBase):
    """For the simulator and tests: no Authorization header at all."""

    method: Literal["none"]

    def token_provider(self, scope: str, build_credential: CredentialFactory,
                       environ: Mapping[str, str]) -> TokenProvider:
        return NoToken()


def _method_name(model: type[AuthBase]) -> str:
    """The `method` a model's Literal annotation names."""
    [name] = get_args(model.model_fields["method"].annotation)
    return str(name)


#: Every sign-in method, by name: the one list (the configuration's union, the Helm
#: chart's values schema and the docs follow it).
AUTH_MODELS: dict[str, type[AuthBase]] = {_method_name(model): model for model in (
    DefaultAuth, ClientSecretAuth, ManagedIdentityAuth, WorkloadIdentityAuth, AzureCliAuth,
    TokenFileAuth, TokenAuth, RmsApiKeyAuth, NoAuth,
)}


if TYPE_CHECKING:
    AuthConfig = AuthBase
else:
    AuthConfig = tagged_union(AUTH_MODELS, "method", "default")
