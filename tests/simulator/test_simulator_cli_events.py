"""`ams-job-exporter simulate ... --events-to URL`: lively jobs whose events reach a real
receiver while the command runs (real time: the waits are bounded)."""

from __future__ import annotations

import argparse

import pytest

from exporter.simulator import cli
from tests.simulator.event_receiver import Received, Receiver

FIRST_EVENT = 30.0  # lively jobs are scheduled 1-5 s after they are created


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser()
    cli.add_arguments(result)
    return result


def run(argv: list[str], receiver: Receiver, capsys: pytest.CaptureFixture[str],
        until: int = 1) -> str:
    """Run the command until the receiver has `until` notifications; the output."""
    outputs: list[str] = []
    got: list[bool] = []

    def wait() -> None:
        outputs.append(capsys.readouterr().out)
        got.append(receiver.wait_for(
            lambda received: sum(r.kind == "notification" for r in received) >= until,
            FIRST_EVENT))

    args = parser().parse_args(["--listen", "127.0.0.1:0", "--jobs", "5", *argv])
    assert cli.run(args, wait=wait) == 0
    assert got == [True], receiver.requests()
    return outputs[0]


def test_events_to_posts_cloudevents_batches_with_the_secret(
    capsys: pytest.CaptureFixture[str]
) -> None:
    with Receiver() as receiver:
        output = run(["--api", "v3", "--events-to", receiver.url, "--events-schema",
                      "cloudevents", "--events-batch", "2", "--events-secret", "hush"],
                     receiver, capsys)
        first, *rest = receiver.requests()
        assert first.method == "OPTIONS" and first.query == {"secret": "hush"}
        post = next(r for r in rest if r.kind == "notification")
        assert post.query == {"secret": "hush"}
        assert post.headers["content-type"].startswith("application/cloudevents-batch+json")
        assert isinstance(post.body, list) and 1 <= len(post.body) <= 2
        assert post.body[0]["source"].endswith("/providers/Microsoft.Media/mediaservices/demo")
    assert f"events: cloudevents to {receiver.url} with query secret= as given" in output
    assert "hush" not in output


def test_events_to_with_every_api_sends_event_grid_and_mkio_events(
    capsys: pytest.CaptureFixture[str]
) -> None:
    def mkio(request: Received) -> bool:
        return isinstance(request.body, dict) and request.body.get("type", "").startswith(
            "MediaKind.")

    with Receiver() as receiver:
        outputs: list[str] = []

        def wait() -> None:
            outputs.append(capsys.readouterr().out)
            assert receiver.wait_for(lambda received: any(mkio(r) for r in received)
                                     and any(r.kind == "notification" and not mkio(r)
                                             for r in received), 3 * FIRST_EVENT)

        args = parser().parse_args(["--listen", "127.0.0.1:0", "--jobs", "5", "--api", "all",
                                    "--events-to", receiver.url])
        assert cli.run(args, wait=wait) == 0
        handshakes = [r for r in receiver.requests() if r.kind == "handshake"]
        assert len(handshakes) == 2  # one subscription per topic: the v3 and the RMS account
        assert "accounts demo-v3, demo-rms, demo-mkio" in outputs[0]


def test_events_to_needs_an_account_that_sends_events(
    capsys: pytest.CaptureFixture[str]
) -> None:
    args = parser().parse_args(["--api", "v2", "--events-to", "http://127.0.0.1:9/events"])
    assert cli.run(args) == 2
    assert "--events-to needs v3, RMS or MK.IO accounts" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["--events-to", "ftp://x/events"], ["--events-batch", "0"], ["--events-batch", "5001"],
    ["--events-duplicates", "2"], ["--events-reorder", "-1"], ["--events-schema", "json"],
])
def test_bad_event_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(argv)
