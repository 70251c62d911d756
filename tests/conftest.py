"""Shared fixtures: a simulator on 127.0.0.1 driven by a manual clock, and exporters
built from YAML text. Plain helpers (T0, scrape, v2_config, ...) are in
tests/helpers/; import them from there, not from this file or another test module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from exporter.app.config import Config, parse_config
from exporter.app.exporter import Exporter
from exporter.simulator import ManualClock, Simulator
from tests.helpers import T0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def simulator(clock: ManualClock) -> Iterator[Simulator]:
    sim = Simulator(clock=clock, seed=7, require_auth=True)
    sim.add_v2_account("acct")
    with sim.start(host="127.0.0.1", port=0):
        yield sim


@pytest.fixture
def token_file(tmp_path) -> str:
    path = tmp_path / "token"
    path.write_text("test-token\n")
    return str(path)


@pytest.fixture
def make_exporter(clock: ManualClock, token_file: str) -> Iterator[Callable[..., Exporter]]:
    made: list[Exporter] = []

    def make(config_text: str) -> Exporter:
        config: Config = parse_config(config_text.replace("TOKEN", token_file), {})
        exporter = Exporter(config, clock=clock)
        made.append(exporter)
        return exporter

    yield make
    for exporter in made:
        exporter.close()
