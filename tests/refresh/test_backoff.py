"""The wait after failed refreshes, and what a failure is called and logged as."""

from __future__ import annotations

import random

import pytest

from exporter.backends.auth.errors import AuthError
from exporter.backends.transport import ApiError, ThrottledError
from exporter.refresh.backoff import (
    MAX_BACKOFF_SECONDS,
    Failure,
    first_line,
    next_delay,
    same_cause,
    worth_logging,
)


class Jitter(random.Random):
    """Always draws the same fraction of the range asked for."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction
        self.draws: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.draws.append((a, b))
        return a + (b - a) * self.fraction


def test_after_a_success_the_next_attempt_is_one_interval_away_and_draws_nothing():
    rng = Jitter(0.5)
    assert next_delay(30.0, 0, None, rng) == 30.0
    assert next_delay(30.0, 0, 600.0, rng) == 30.0, "Retry-After is only for failures"
    assert rng.draws == []


@pytest.mark.parametrize(("failures", "step"), [(1, 10.0), (2, 20.0), (3, 20.0), (50, 20.0)])
def test_failures_double_the_wait_up_to_two_intervals(failures, step):
    assert next_delay(10.0, failures, None, Jitter(1.0)) == step
    assert next_delay(10.0, failures, None, Jitter(0.0)) == 0.75 * step


def test_the_backoff_never_exceeds_five_minutes():
    assert next_delay(600.0, 3, None, Jitter(1.0)) == MAX_BACKOFF_SECONDS == 300.0


def test_jitter_spreads_attempts_within_75_to_100_percent():
    rng = Jitter(0.5)
    assert next_delay(10.0, 2, None, rng) == pytest.approx(17.5)
    assert rng.draws == [(0.75, 1.0)]


def test_retry_after_comes_first_but_never_shortens_the_backoff():
    assert next_delay(10.0, 1, 45.0, Jitter(1.0)) == 45.0
    assert next_delay(10.0, 2, 1.0, Jitter(1.0)) == 20.0


def test_a_throttled_answer_carries_its_retry_after():
    failure = Failure.of(ThrottledError("HTTP 429: slow down", 429, 12.0))
    assert failure == Failure("HTTP 429: slow down", 12.0, unexpected=False)


@pytest.mark.parametrize("exc", [ApiError("HTTP 500: boom", 500), AuthError("no token")])
def test_api_and_sign_in_errors_are_expected_and_named_by_their_message(exc):
    assert Failure.of(exc) == Failure(str(exc), None, unexpected=False)


def test_a_surprise_is_named_by_its_type_and_first_line():
    failure = Failure.of(ValueError("first\nsecond"))
    assert failure.unexpected and failure.retry_after is None
    assert failure.reason == "unexpected ValueError: first"


def test_first_line_is_bounded_and_never_empty():
    assert first_line(ValueError("x" * 500 + "\nmore")) == "x" * 200
    assert first_line(ValueError("   ")) == "no details"


def test_the_same_cause_with_another_request_id_and_time_logs_once():
    one = "HTTP 503 (request 1f2e3d4c-aaaa-bbbb-cccc-0123456789ab at 2026-01-01T00:00:01.5Z)"
    two = "HTTP 503 (request 99999999-1111-2222-3333-444444444444 at 2026-01-02 10:11:12Z)"
    assert same_cause(one) == same_cause(two) == "HTTP 503 (request … at …)"
    assert not worth_logging(False, one, two)


def test_a_failure_after_a_success_or_of_another_cause_is_logged():
    assert worth_logging(True, "HTTP 503", "HTTP 503")
    assert worth_logging(False, "HTTP 503", "HTTP 401: unauthorized")
