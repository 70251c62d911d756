"""Unit tests of the simulator's own OData $filter parser."""

from __future__ import annotations

import contextlib

import hypothesis
import hypothesis.strategies
import pytest

from exporter.simulator.odata_filter import MAX_DEPTH, EdmType, ParseError, parse_filter
from exporter.simulator.v2_entities import JOBS

# 2015-02-11T01:46:08.897 in microseconds
CREATED = 1423619168897000
RECORD = {
    "Id": "nb:jid:it's",
    "Name": "Encoding BigBuckBunny into H264",
    "State": 3,
    "Priority": 0,
    "Created": CREATED,
    "LastModified": CREATED,
    "StartTime": None,
    "EndTime": None,
    "RunningDuration": 1500.5,
    "TemplateId": None,
}


def matches(text: str, record: dict[str, object] = RECORD) -> bool:
    return parse_filter(text, JOBS.types).matches(record)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Id eq 'nb:jid:it''s'", True),
        ("Id eq 'nb:jid:its'", False),
        ("Id ne 'x'", True),
        ("State eq 3", True),
        ("State eq 3L", True),
        ("State gt 2 and State lt 4", True),
        ("State ge 3.0", True),
        ("RunningDuration gt 1500", True),
        ("RunningDuration le 1.5005e3", True),
        ("Priority eq -1", False),
        ("Name eq 'Encoding BigBuckBunny into H264'", True),
    ],
)
def test_comparisons(text: str, expected: bool) -> None:
    assert matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Created eq datetime'2015-02-11T01:46:08.897'", True),
        ("Created eq datetime'2015-02-11T01:46:08.8970000Z'", True),
        ("Created gt datetime'2015-02-11T01:46:08.8969999'", True),
        ("Created lt datetime'2015-02-11T01:46:08.8970001'", True),
        ("Created ge datetime'2015-02-11T01:46:09'", False),
        ("Created gt datetime'2015-02-11T01:46'", True),
        ("Created lt datetime'2015-02-12T00:00:00Z'", True),
        (
            "LastModified ge datetime'2015-02-11T00:00:00'"
            " and LastModified lt datetime'2015-02-12T00:00:00'",
            True,
        ),
    ],
)
def test_datetime_literals(text: str, expected: bool) -> None:
    assert matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # and binds tighter than or: true or (false and false)
        ("State eq 3 or State eq 1 and Priority eq 9", True),
        ("(State eq 3 or State eq 1) and Priority eq 9", False),
        # not binds tighter than and/or
        ("not (State eq 3) or Priority eq 0", True),
        ("not (State eq 3 or Priority eq 0)", False),
        ("not (State eq 1) and not (State eq 2)", True),
        ("true", True),
        ("not true", False),
        ("(((State eq 3)))", True),
        ("State eq 3 eq true", True),
    ],
)
def test_logic_and_precedence(text: str, expected: bool) -> None:
    assert matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("startswith(Name,'Encoding')", True),
        ("startswith(Name,'encoding')", False),
        ("endswith(Name,'H264')", True),
        ("substringof('Bunny',Name)", True),
        ("substringof(Name,'Bunny')", False),
        ("startswith(Name,'Enc') eq true", True),
        ("not startswith(Name,'x')", True),
    ],
)
def test_string_functions(text: str, expected: bool) -> None:
    assert matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TemplateId eq null", True),
        ("TemplateId ne null", False),
        ("null eq null", True),
        ("EndTime gt datetime'2000-01-01T00:00:00'", False),
        ("EndTime lt datetime'2000-01-01T00:00:00'", False),
        ("EndTime eq datetime'2000-01-01T00:00:00'", False),
        ("EndTime ne datetime'2000-01-01T00:00:00'", True),
        ("Priority gt null", False),
        # a function of null is null: neither it nor its negation matches
        ("startswith(TemplateId,'nb')", False),
        ("not startswith(TemplateId,'nb')", False),
        ("startswith(TemplateId,'nb') or State eq 3", True),
    ],
)
def test_null_semantics(text: str, expected: bool) -> None:
    assert matches(text) is expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("State", "boolean"),
        ("state eq 3", "did you mean 'State'"),
        ("Foo eq 1", "unknown property 'Foo'"),
        ("not State eq 3", "operand of 'not'"),
        ("Id eq 'unterminated", "unterminated"),
        ("State eq", "expected an operand"),
        ("State eq 3 and", "expected an operand"),
        ("(State eq 3", "expected ')'"),
        ("State eq 3)", "unexpected ')'"),
        ("State EQ 3", "unexpected 'EQ'"),
        ("Id eq 'a' And State eq 3", "unexpected 'And'"),
        ("Created gt '2015-02-11'", "datetime'"),
        ("Created gt datetime'2015-02-30T00:00:00'", "invalid datetime"),
        ("Created gt datetime'2015-02-11T00:00:00.12345678'", "invalid datetime"),
        ("State eq 'x'", "cannot compare"),
        ("State gt true", "cannot order"),
        ("tolower(Name) eq 'x'", "not supported"),
        ("startswith(Name)", "takes 2 arguments"),
        ("startswith(State,'1')", "string arguments"),
        ("State add 1 eq 4", "arithmetic"),
        ("Name/Length eq 3", "'/'"),
        ("guid'00000000-0000-0000-0000-000000000000' eq Id", "unsupported literal"),
        ("State eq 1.2.3", "invalid number"),
        ("State eq " + "9" * 60, "too long"),
        ("State eq 3 ; drop", "unexpected character"),
    ],
)
def test_errors_explain_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_filter(text, JOBS.types)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1),
        "not " * (MAX_DEPTH + 1) + "true",
        " eq ".join(["true"] * (MAX_DEPTH + 2)),
        "startswith(" * 200,
        "(" * 60_000,
    ],
    ids=["parentheses", "not", "eq-chain", "calls", "many-parentheses"],
)
def test_nesting_is_bounded(text: str) -> None:
    with pytest.raises(ParseError, match="nested deeper"):
        parse_filter(text, JOBS.types)


def test_long_flat_disjunction_is_fine() -> None:
    text = " or ".join(f"Id eq 'nb:jid:{i}'" for i in range(2000))
    assert parse_filter(text, JOBS.types).matches({"Id": "nb:jid:1999"})


def test_custom_property_table() -> None:
    properties = {"Progress": EdmType.DOUBLE}
    assert parse_filter("Progress ge 50", properties).matches({"Progress": 50.0})
    with pytest.raises(ParseError):
        parse_filter("State eq 1", properties)


def test_fuzz_raises_only_parse_error() -> None:
    st = hypothesis.strategies
    pieces = st.sampled_from(
        ["Id", "Name", "State", "Created", "TemplateId", "eq", "ne", "gt", "and", "or",
         "not", "(", ")", ",", "'a'", "'it''s'", "'", "1", "-2", "3.5", "2L", "1e5", "null",
         "true", "datetime'2015-02-11T00:00:00'", "datetime'", "startswith", "substringof"]
    )

    @hypothesis.settings(max_examples=400, deadline=None, database=None)
    @hypothesis.given(st.lists(pieces, max_size=25).map(" ".join) | st.text(max_size=50))
    def check(text: str) -> None:
        with contextlib.suppress(ParseError):
            parse_filter(text, JOBS.types).matches(RECORD)

    check()
