"""`ams-job-exporter simulate --api rms|mkio|all`: what it serves and what it prints, used
the way a user would (the printed endpoints, key and token work while it runs)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

import pytest
import requests

from exporter.simulator import cli

TIMEOUT = 10


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser()
    cli.add_arguments(result)
    return result


def run(argv: list[str], capsys: pytest.CaptureFixture[str],
        check: Callable[[str], None]) -> str:
    """Run the command; `check(output)` runs while the server is up."""
    outputs: list[str] = []

    def wait() -> None:
        outputs.append(capsys.readouterr().out)
        check(outputs[0])

    assert cli.run(parser().parse_args(["--listen", "127.0.0.1:0", *argv]), wait=wait) == 0
    assert outputs, "the server never came up"
    return outputs[0]


def field(output: str, pattern: str) -> str:
    match = re.search(pattern, output)
    assert match is not None, (pattern, output)
    return match.group(1)


def test_all_serves_every_flavour_and_prints_how_to_reach_it(
    capsys: pytest.CaptureFixture[str]
) -> None:
    def check(output: str) -> None:
        base = field(output, r"simulator on (http://\S+) ")
        # v2 and v3 as before
        assert requests.get(base + "/v2/demo/api/Jobs", timeout=TIMEOUT, headers={
            "Authorization": "Bearer x", "x-ms-version": "2.19"}).status_code == 200
        # RMS: sign in with the printed key, then list the printed account's jobs
        subscription = field(output, r"RMS account demo-rms: subscription (\S+),")
        key = field(output, r"RMS account demo-rms: .*API key (\S+)")
        token = requests.post(field(output, r"token: POST (\S+) "), timeout=TIMEOUT,
                              json={"subscriptionId": subscription, "apiKey": key})
        assert token.status_code == 200
        group = field(output, r"RMS account demo-rms: .*resource group (\S+),")
        endpoint = field(output, r"RMS endpoint: (\S+) ")
        rms = requests.get(
            f"{endpoint}subscriptions/{subscription}/"
            f"resourceGroups/{group}/providers/Microsoft.Media/mediaServices/demo/"
            "transforms/encode-720p/jobs", params={"api-version": "2022-07-01"},
            headers={"Authorization": f"Bearer {token.text}"}, timeout=TIMEOUT)
        assert rms.status_code == 200 and rms.json()["value"]
        # MK.IO: the printed token on the printed project
        mkio_base = field(output, r"MK.IO endpoint: (\S+) ")
        mkio_token = field(output, r"MK.IO token: (\S+) ")
        mkio = requests.get(f"{mkio_base}/api/v1/projects/demo/media/jobs",
                            headers={"Authorization": f"Bearer {mkio_token}"}, timeout=TIMEOUT)
        assert mkio.status_code == 200
        # 7 jobs over the 3 transforms, and the lively feed may have added some
        assert mkio.json()["supplemental"]["pagination"]["total"] >= 7

    output = run(["--api", "all", "--jobs", "7", "--transforms", "3", "--lively"], capsys,
                 check)
    assert output.startswith("AMS v2+v3+RMS+MK.IO simulator on http://127.0.0.1:")
    assert "v3 account demo-v3: subscription 00000000-0000-0000-0000-000000000000" in output
    assert "RMS account demo-rms: subscription " in output
    assert "API key rms-simulator-api-key" in output
    assert "MK.IO project demo (account demo-mkio): transforms encode-720p, encode-1080p, " \
           "thumbnails" in output
    assert "(2000 GET per minute per project)" in output


def test_rms_with_tls_and_a_given_key(capsys: pytest.CaptureFixture[str]) -> None:
    def check(output: str) -> None:
        ca = field(output, r"CA certificate: (\S+) ")
        response = requests.post(field(output, r"token: POST (\S+) "), verify=ca,
                                 timeout=TIMEOUT, json={
                                     "subscriptionId": field(output, r"subscription (\S+),"),
                                     "apiKey": "s3cret-key"})
        assert response.status_code == 200 and response.text.count(".") == 2

    output = run(["--api", "rms", "--tls", "--rms-api-key", "s3cret-key",
                  "--accounts", "alpha,beta"], capsys, check)
    assert output.startswith("AMS RMS simulator on https://")
    assert "RMS account alpha: " in output and "RMS account beta: " in output
    assert "s3cret-key" not in output and "API key as given" in output
    assert "AAD authority" not in output and "without --tls" not in output


def test_mkio_with_a_given_token_and_limits(capsys: pytest.CaptureFixture[str]) -> None:
    def check(output: str) -> None:
        base = field(output, r"MK.IO endpoint: (\S+) ")
        url = f"{base}/api/v1/projects/media-one/media/transforms"
        headers = {"Authorization": "Bearer my-token"}
        assert requests.get(url, headers=headers, timeout=TIMEOUT).status_code == 200
        throttled = requests.get(url, headers=headers, timeout=TIMEOUT)
        assert throttled.status_code == 429 and throttled.headers["Retry-After"]
        assert requests.get(url, timeout=TIMEOUT).status_code == 401

    output = run(["--api", "mkio", "--accounts", "media-one", "--mkio-token", "my-token",
                  "--mkio-rate-limit", "1", "--mkio-retry-after", "--fidelity"], capsys, check)
    assert "MK.IO project media-one (account media-one)" in output
    assert "MK.IO token: as given" in output and "my-token" not in output
    assert "(1 GET per minute per project)" in output


def test_bad_successor_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--api", "rms", "--accounts", "Not_Valid"],
                 ["--api", "mkio", "--accounts", "Bad_Name"],
                 ["--api", "mkio", "--mkio-rate-limit", "-1"]):
        assert cli.run(parser().parse_args(argv), wait=lambda: None) == 2
        assert capsys.readouterr().out.startswith("error: ")
    sim = cli.build(parser().parse_args(["--api", "mkio", "--mkio-rate-limit", "0"]))
    assert sim.transforms("demo") == ["encode-720p"]
    assert cli.account_key("demo", "mkio", "all") == "demo-mkio"
    assert cli.account_key("demo", "v2", "all") == "demo"
    assert cli.v3_account_key("demo", "both") == "demo-v3"
    assert cli.v3_account_key("demo", "v3") == "demo"
