"""The pieces of the MK.IO and RMS backends that need no server."""

from __future__ import annotations

import base64
import json

import pytest

from exporter.app.config import parse_config
from exporter.backends.auth.rms import jwt_expiry, token_from_body
from exporter.backends.mkio.client import PAGE_SIZE, _last_page, mkio_datetime, transform_of
from exporter.config.errors import ConfigError


def jwt(payload: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none'})}.{part(payload)}.sig"


def test_jwt_expiry_reads_exp_and_tolerates_junk():
    assert jwt_expiry(jwt({"exp": 1767229200})) == 1767229200.0
    assert jwt_expiry(jwt({"sub": "x"})) is None
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.%%%.c") is None


def test_the_token_is_the_bare_body_or_a_json_field():
    token = jwt({"exp": 1})
    assert token_from_body(f"{token}\n".encode()) == token
    assert token_from_body(f'"{token}"'.encode()) == token
    assert token_from_body(json.dumps({"token": token}).encode()) == token


def test_the_transform_comes_from_the_id_path():
    resource = {"id": "/subscriptions/s/resourceGroups/default/providers/Microsoft.Media/"
                      "mediaservices/mkiotest/transforms/simpletransformsd/jobs/job-7326300f"}
    assert transform_of(resource) == "simpletransformsd"
    assert transform_of({"id": "/something/else"}) is None
    assert transform_of({}) is None


def test_mkio_datetimes_are_unquoted_whole_seconds_with_z():
    assert mkio_datetime(1767225600.9) == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize("records, pagination, last", [
    (PAGE_SIZE, None, False),
    (10, None, True),
    (10, {"start": 0, "end": 10, "records": 10, "total": 45}, False),  # a smaller server page
    (10, {"start": 35, "end": 45, "records": 10, "total": 45}, True),
])
def test_a_short_page_ends_the_listing_unless_the_envelope_says_more_remain(
        records, pagination, last):
    body = {"value": [{}] * records}
    if pagination is not None:
        body["supplemental"] = {"pagination": pagination}
    assert _last_page(body, records) is last


def test_mkio_accounts_take_a_personal_token_and_default_to_its_budget():
    config = parse_config("""
accounts:
  - {name: mk, api: mkio, project: my-project, auth: {method: token_file, path: /t}}
""", {})
    [account] = config.accounts
    assert account.endpoint == "https://app.mk.io"
    assert account.max_requests_per_second == pytest.approx(2000 / 60)
    with pytest.raises(ConfigError, match=r"^accounts\[0\]\.auth: MK.IO signs in with a "
                                          r"personal API token"):
        parse_config("accounts: [{name: mk, api: mkio, project: p, "
                     "auth: {method: client_secret}}]", {})


def test_rms_api_key_needs_exactly_one_key():
    base = ("accounts: [{name: r, api: v3, subscription_id: s, resource_group: g, "
            "arm_endpoint: 'https://rms.example.net', auth: {method: rms_api_key%s}}]")
    parse_config(base % ", api_key: k", {})
    with pytest.raises(ConfigError, match="give exactly one of api_key and api_key_file"):
        parse_config(base % "", {})
