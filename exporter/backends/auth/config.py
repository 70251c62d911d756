"""The `auth` section of an account: one model per sign-in method.

Optional keys may also come from the AZURE_* environment variables azure-identity
reads; those are looked up when the credential is built, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Tag, model_validator

from exporter.config.types import HttpUrl, StrictModel, Text


class AuthBase(StrictModel):
    method: str

    @property
    def options(self) -> Mapping[str, str]:
        """The keys that are set, method excluded (what credential builders read)."""
        return {key: value for key, value in self.model_dump(exclude={"method"}).items()
                if value}


class DefaultAuth(AuthBase):
    method: Literal["default"] = "default"
    client_id: Text | None = None
    authority_host: Text | None = None


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


class ManagedIdentityAuth(AuthBase):
    method: Literal["managed_identity"]
    client_id: Text | None = None


class WorkloadIdentityAuth(AuthBase):
    method: Literal["workload_identity"]
    tenant_id: Text | None = None
    client_id: Text | None = None
    token_file: Text | None = None
    authority_host: Text | None = None


class AzureCliAuth(AuthBase):
    method: Literal["azure_cli"]


class TokenFileAuth(AuthBase):
    method: Literal["token_file"]
    path: Text


class TokenAuth(AuthBase):
    method: Literal["token"]
    token: Text


class RmsApiKeyAuth(AuthBase):
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
    method: Literal["none"]


AUTH_MODELS: dict[str, type[AuthBase]] = {
    "default": DefaultAuth, "client_secret": ClientSecretAuth,
    "managed_identity": ManagedIdentityAuth, "workload_identity": WorkloadIdentityAuth,
    "azure_cli": AzureCliAuth, "token_file": TokenFileAuth, "token": TokenAuth,
    "rms_api_key": RmsApiKeyAuth, "none": NoAuth,
}


def method_of(value: Any) -> str | None:
    """The discriminator of the auth union: `method`, `default` when absent."""
    if isinstance(value, dict):
        method = value.get("method", "default")
        return method if isinstance(method, str) else "?"
    return getattr(value, "method", None)


AuthConfig = Annotated[
    Annotated[DefaultAuth, Tag("default")] | Annotated[ClientSecretAuth, Tag("client_secret")]
    | Annotated[ManagedIdentityAuth, Tag("managed_identity")]
    | Annotated[WorkloadIdentityAuth, Tag("workload_identity")]
    | Annotated[AzureCliAuth, Tag("azure_cli")] | Annotated[TokenFileAuth, Tag("token_file")]
    | Annotated[TokenAuth, Tag("token")] | Annotated[RmsApiKeyAuth, Tag("rms_api_key")]
    | Annotated[NoAuth, Tag("none")],
    Discriminator(method_of),
]
