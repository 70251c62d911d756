"""azure-identity credentials, built from an auth section's keys and the usual
AZURE_* environment variables (each auth model in auth/config.py names its builder).

A credential that cannot be built raises AuthError naming what is missing; the
caller retries on the next refresh, so fixing the environment needs no restart.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from exporter.backends.auth.errors import AuthError

if TYPE_CHECKING:
    from exporter.backends.auth.config import AuthBase

#: Azure's public sign-in hosts. Any other authority host (a private cloud, the
#: simulator) turns MSAL's instance discovery off: with it on, MSAL would ask the
#: public cloud to validate the host first.
WELL_KNOWN_AUTHORITIES = frozenset({
    "login.microsoftonline.com", "login.chinacloudapi.cn", "login.microsoftonline.us",
    "login.microsoftonline.de",
})

#: Builds the azure-identity credential of an auth section (tests may fake it).
CredentialFactory = Callable[["AuthBase"], Any]


def authority_kwargs(authority: str | None) -> dict[str, Any]:
    if not authority:
        return {}
    host = urlsplit(authority if "://" in authority else f"https://{authority}").hostname or ""
    kwargs: dict[str, Any] = {"authority": authority}
    if host.lower() not in WELL_KNOWN_AUTHORITIES:
        kwargs["disable_instance_discovery"] = True
    return kwargs


class CredentialBuilder:
    """Builds the credential of an auth section; the environment is injected."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def __call__(self, auth: AuthBase) -> Any:
        return auth.credential(self.environ)


def _pick(options: Mapping[str, str], environ: Mapping[str, str], key: str,
          env: str) -> str | None:
    return options.get(key) or environ.get(env) or None


def _authority(options: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, Any]:
    return authority_kwargs(_pick(options, environ, "authority_host", "AZURE_AUTHORITY_HOST"))


def _require(method: str, values: dict[str, tuple[str | None, str]]) -> None:
    missing = [f"{key} (auth.{key} or {env})" for key, (value, env) in values.items()
               if not value]
    if missing:
        raise AuthError(f"auth method {method}: missing {', '.join(missing)}")


def default_credential(options: Mapping[str, str], environ: Mapping[str, str]) -> Any:
    from azure.identity import DefaultAzureCredential

    kwargs = _authority(options, environ)
    client_id = options.get("client_id")
    if client_id:
        kwargs["managed_identity_client_id"] = client_id
        kwargs["workload_identity_client_id"] = client_id
    return DefaultAzureCredential(**kwargs)


def client_secret_credential(options: Mapping[str, str], environ: Mapping[str, str]) -> Any:
    from azure.identity import ClientSecretCredential

    tenant = _pick(options, environ, "tenant_id", "AZURE_TENANT_ID")
    client = _pick(options, environ, "client_id", "AZURE_CLIENT_ID")
    secret = options.get("client_secret")
    if not secret and options.get("client_secret_file"):
        secret = _read_secret_file(options["client_secret_file"])
    secret = secret or environ.get("AZURE_CLIENT_SECRET")
    _require("client_secret", {
        "tenant_id": (tenant, "AZURE_TENANT_ID"),
        "client_id": (client, "AZURE_CLIENT_ID"),
        "client_secret": (secret, "AZURE_CLIENT_SECRET"),
    })
    assert tenant and client and secret  # checked by _require
    return ClientSecretCredential(tenant, client, secret, **_authority(options, environ))


def managed_identity_credential(options: Mapping[str, str],
                                environ: Mapping[str, str]) -> Any:
    from azure.identity import ManagedIdentityCredential

    client_id = _pick(options, environ, "client_id", "AZURE_CLIENT_ID")
    return ManagedIdentityCredential(client_id=client_id) if client_id \
        else ManagedIdentityCredential()


def workload_identity_credential(options: Mapping[str, str],
                                 environ: Mapping[str, str]) -> Any:
    from azure.identity import WorkloadIdentityCredential

    tenant = _pick(options, environ, "tenant_id", "AZURE_TENANT_ID")
    client = _pick(options, environ, "client_id", "AZURE_CLIENT_ID")
    token_file = _pick(options, environ, "token_file", "AZURE_FEDERATED_TOKEN_FILE")
    _require("workload_identity", {
        "tenant_id": (tenant, "AZURE_TENANT_ID"),
        "client_id": (client, "AZURE_CLIENT_ID"),
        "token_file": (token_file, "AZURE_FEDERATED_TOKEN_FILE"),
    })
    return WorkloadIdentityCredential(tenant_id=tenant, client_id=client,
                                      token_file_path=token_file,
                                      **_authority(options, environ))


def azure_cli_credential(options: Mapping[str, str], environ: Mapping[str, str]) -> Any:
    from azure.identity import AzureCliCredential

    return AzureCliCredential()


def _read_secret_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as exc:
        raise AuthError(f"cannot read client_secret_file {path}: {exc.strerror}") from None


def failure_hint(auth: AuthBase, environ: Mapping[str, str]) -> str:
    """A hint for failures whose own message is unclear."""
    if auth.method in ("managed_identity", "default") and not (
            auth.options.get("client_id") or environ.get("AZURE_CLIENT_ID")):
        return (" (with several user-assigned managed identities, set auth.client_id or "
                "AZURE_CLIENT_ID)")
    return ""
