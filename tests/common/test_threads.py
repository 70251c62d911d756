"""The GIL switch interval the command line sets, and the environment's say in it."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from exporter.common.threads import ENVIRONMENT, SWITCH_INTERVAL, shorten_gil_switch_interval


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.mark.parametrize("environ, expected", [
    ({}, SWITCH_INTERVAL),
    ({ENVIRONMENT: "0.005"}, 0.005),
    ({ENVIRONMENT: "nonsense"}, SWITCH_INTERVAL),
    ({ENVIRONMENT: "-1"}, SWITCH_INTERVAL),
    ({ENVIRONMENT: "3600"}, SWITCH_INTERVAL),
])
def test_the_interval_is_short_unless_the_environment_chooses(environ, expected):
    assert shorten_gil_switch_interval(environ) == pytest.approx(expected)
    assert sys.getswitchinterval() == pytest.approx(expected)
