"""What the backends own, seen from outside: the registry's tables (APIs, event
types, auth methods) agree with each other and with the Helm chart, and each
auth method signs in its own way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import TypeAdapter

from exporter.backends.auth.config import AUTH_MODELS, AuthConfig
from exporter.backends.auth.credentials import CredentialBuilder
from exporter.backends.auth.errors import AuthError
from exporter.backends.auth.tokens import (
    CredentialToken,
    NoToken,
    StaticToken,
    TokenFile,
    cloud_scope,
)
from exporter.backends.base import Backend
from exporter.backends.records import progress_ratio
from exporter.backends.registry import BACKENDS, backend_for_event, by_event_type
from exporter.backends.settings import AccountSettings

CHART_SCHEMA = Path(__file__).resolve().parents[2] / "helm/ams-job-exporter/values.schema.json"
#: The keys each method requires besides `method`.
REQUIRED_KEYS: dict[str, dict[str, str]] = {
    "token_file": {"path": "/var/run/secrets/token"}, "token": {"token": "t0ken"},
    "rms_api_key": {"api_key": "k3y"}}
#: Methods that do not sign in through an azure-identity credential.
OWN_PROVIDERS = {"none": NoToken, "token": StaticToken, "token_file": TokenFile}


def auth_section(method: str) -> Any:
    return TypeAdapter(AuthConfig).validate_python({"method": method,
                                                    **REQUIRED_KEYS.get(method, {})})


def test_each_backend_is_registered_under_the_api_its_config_model_takes():
    for api, backend in BACKENDS.items():
        assert get_args(backend.config_model.model_fields["api"].annotation) == (api,)


def test_the_helm_schema_lists_the_registered_apis_and_auth_methods_in_order():
    schema = json.loads(CHART_SCHEMA.read_text())
    account = schema["properties"]["config"]["properties"]["accounts"]["items"]["properties"]
    assert account["api"]["enum"] == list(BACKENDS)
    assert account["auth"]["properties"]["method"]["enum"] == list(AUTH_MODELS)


@pytest.mark.parametrize("method", list(AUTH_MODELS))
def test_every_auth_method_is_a_configuration_choice_with_its_own_sign_in(method):
    auth = auth_section(method)
    assert type(auth) is AUTH_MODELS[method]
    built: list[Any] = []
    provider = auth.token_provider("https://scope/.default", built.append, {})
    assert type(provider) is OWN_PROVIDERS.get(method, CredentialToken)
    assert built == []  # credentials are built on first use, not before


@pytest.mark.parametrize("method", ["token", "token_file", "rms_api_key", "none"])
def test_methods_without_an_azure_identity_credential_say_so(method):
    with pytest.raises(AuthError, match=f"auth method {method} has no azure-identity"):
        CredentialBuilder({})(auth_section(method))


def test_a_credential_token_builds_its_credential_through_the_factory():
    seen = []

    def factory(auth: Any) -> Any:
        seen.append(auth.method)
        raise AuthError("no credential here")

    provider = auth_section("managed_identity").token_provider("s", factory, {})
    with pytest.raises(AuthError, match="no credential here"):
        provider.token()
    assert seen == ["managed_identity"]


def test_scopes_follow_the_endpoints_cloud():
    assert cloud_scope("https://management.azure.com", "management", "azure.com") == \
        "https://management.azure.com/.default"
    assert cloud_scope("https://a.restv2.chinanorth.media.chinacloudapi.cn/api/",
                       "rest.media", "azure.net") == \
        "https://rest.media.chinacloudapi.cn/.default"
    assert cloud_scope("https://management.usgovcloudapi.net", "management", "azure.com") == \
        "https://management.usgovcloudapi.net/.default"


def test_event_types_go_to_the_backend_whose_services_send_them():
    assert backend_for_event("Microsoft.Media.JobFinished") is BACKENDS["v3"]
    assert backend_for_event("Microsoft.Media.JobOutputProgress") is BACKENDS["v3"]
    assert backend_for_event("MediaKind.JobStarted") is BACKENDS["mkio"]
    assert backend_for_event("Microsoft.Storage.BlobCreated") is None
    assert backend_for_event("Microsoft.EventGrid.SubscriptionValidationEvent") is None


def test_an_event_type_claimed_by_two_backends_is_refused():
    class Echo(Backend[AccountSettings]):
        api = "echo"
        config_model = AccountSettings
        event_types = frozenset({"MediaKind.JobFinished"})

    assert by_event_type([Echo()])["MediaKind.JobFinished"].api == "echo"
    with pytest.raises(ValueError, match="claimed by the mkio and echo backends"):
        by_event_type([*BACKENDS.values(), Echo()])


@pytest.mark.parametrize("percent, ratio", [
    (50, 0.5), (83.5, 0.835), (150, 1.0), (-3, 0.0), (float("inf"), 1.0),
    (True, None), (float("nan"), None), ("50", None), (None, None),
])
def test_progress_is_a_clamped_ratio_of_numbers_only(percent, ratio):
    assert progress_ratio(percent) == ratio
