"""Log lines nobody outside can write: the text and JSON formatters escape what is
not printable, `secret=` values are redacted, and the throttle bounds repeated lines."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from exporter.common.logs import (
    JsonFormatter,
    TextFormatter,
    Throttle,
    escape,
    redact_secrets,
    setup_logging,
)

HOSTILE = "a\nb\x1b[31mc\rd\u2028e\x85f\x7fg\x00h\ti\u202ej"
ESCAPED = "a\\nb\\x1b[31mc\\rd\\u2028e\\x85f\\x7fg\\x00h\\ti\\u202ej"


def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("bad \x1b[2J value")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("exporter.test", logging.WARNING, __file__, 1, msg, args,
                             exc_info)


def test_escape_keeps_printable_text_and_escapes_the_rest():
    assert escape("café 中文 \\n stays") == "café 中文 \\n stays"
    assert escape(HOSTILE) == ESCAPED
    assert escape("\U000e0001") == "\\U000e0001"  # a non-printable tag character


@pytest.mark.parametrize(("msg", "args"), [
    ("topic %s", (HOSTILE,)),  # in an argument
    (f"topic {HOSTILE}", ()),  # in the message itself
])
def test_the_text_format_is_one_line_whatever_the_values(msg, args):
    line = TextFormatter().format(record(msg, *args))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.endswith(f"WARNING exporter.test: topic {ESCAPED}")
    assert all(c.isprintable() for c in line)


def test_a_traceback_keeps_its_lines_and_loses_its_escapes():
    text = TextFormatter().format(record("failed: %s", "x\ny", exc=True))
    first, *rest = text.split("\n")
    assert first.endswith("failed: x\\ny")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: bad \\x1b[2J value"
    assert "\x1b" not in text


def test_the_json_format_keeps_values_and_no_raw_control_character():
    line = JsonFormatter().format(record("topic %s", HOSTILE, exc=True))
    assert all(c.isprintable() for c in line)
    entry = json.loads(line)
    assert entry["msg"] == f"topic {HOSTILE}"
    assert entry["level"] == "warning" and "ValueError: bad \x1b[2J value" in entry["exc"]


@pytest.mark.parametrize(("text", "redacted"), [
    ('"POST /events?secret=abc HTTP/1.1" 200 -', '"POST /events?secret=REDACTED HTTP/1.1" 200 -'),
    ("/e?x=1&SECRET=abc&y=2", "/e?x=1&SECRET=REDACTED&y=2"),
    ("/e?%73ecret=abc", "/e?%73ecret=REDACTED"),
    ("/e?%53%45%43%52%45%54=abc", "/e?%53%45%43%52%45%54=REDACTED"),
    ("/e?secret%3Dabc&b", "/e?secret%3DREDACTED&b"),
    ("/e?client_secret=abc", "/e?client_secret=REDACTED"),
    ("/e?secret=", "/e?secret=REDACTED"),
    ("no secrets: here", "no secrets: here"),
])
def test_secret_query_values_are_redacted(text, redacted):
    assert redact_secrets(text) == redacted
    assert redact_secrets(redacted) == redacted


def test_both_formats_redact_secrets_of_any_logger():
    rec = record("GET %s", "/events?Secret=abc")
    assert "abc" not in TextFormatter().format(rec)
    assert "abc" not in JsonFormatter().format(rec)


def test_the_throttle_allows_a_few_per_window_and_tells_how_many_it_held():
    now = [0.0]
    throttle = Throttle(limit=2, window=10.0, clock=lambda: now[0])
    assert [throttle.allow("a") for _ in range(5)] == [0, 0, None, None, None]
    assert throttle.allow("b") == 0  # keys apart
    now[0] = 9.9
    assert throttle.allow("a") is None
    now[0] = 10.0
    assert throttle.allow("a") == 4
    assert throttle.allow("a") == 0
    assert throttle.allow("a") is None


@pytest.mark.parametrize(("fmt", "formatter"), [("text", TextFormatter),
                                                ("json", JsonFormatter)])
def test_setup_logging_uses_the_escaping_formatters(fmt, formatter):
    root = logging.getLogger()
    loggers = [root] + [logging.getLogger(n) for n in ("azure", "urllib3", "msal",
                                                        "azure.identity")]
    handlers, levels = root.handlers[:], [logger.level for logger in loggers]
    try:
        setup_logging("debug", fmt)
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, formatter)
        assert root.level == logging.DEBUG
    finally:
        root.handlers[:] = handlers
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
