"""OData literals, datetime parsing and filter building of the v2 client."""

from __future__ import annotations

import pytest

from exporter.backends.ams_v2.client import (
    MAX_QUERY_LENGTH,
    _encode,
    filter_clauses_for,
    id_batches,
)
from exporter.backends.odata import (
    DateFormatError,
    datetime_literal,
    parse_datetime,
    string_literal,
)
from exporter.jobs.states import JobState


def test_seed_start_time_in_both_json_flavours() -> None:
    light = parse_datetime("2015-02-11T01:46:16.58")
    verbose = parse_datetime("/Date(1423619176580)/")
    assert light == 1423619176.58
    assert verbose == light


@pytest.mark.parametrize("text, expected", [
    ("2015-02-11T01:46:16", 1423619176.0),
    ("2015-02-11T01:46:16.5", 1423619176.5),
    ("2015-02-11T01:46:16.5800000", 1423619176.58),
    ("2015-02-11T01:46:16.1234567", 1423619176.1234567),
    ("2015-02-11T01:46:16.58Z", 1423619176.58),
    ("2015-02-11T02:46:16.58+01:00", 1423619176.58),
    ("/Date(1423619176580+0000)/", 1423619176.58),
    (None, None),
])
def test_datetime_formats(text: str | None, expected: float | None) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2015-02-30T00:00:00",
                                  "2015-02-11T01:46:16.12345678", 1423619176])
def test_bad_datetimes_are_rejected(text: object) -> None:
    with pytest.raises(DateFormatError):
        parse_datetime(text)


def test_string_literal_doubles_quotes() -> None:
    assert string_literal("it's") == "'it''s'"
    assert string_literal("' or Id ne '") == "''' or Id ne '''"


def test_datetime_literal_has_seven_fraction_digits() -> None:
    assert datetime_literal(1423619176.58) == "datetime'2015-02-11T01:46:16.5800000'"


def test_lookback_keeps_active_jobs_and_states_narrow_it() -> None:
    clauses = filter_clauses_for(frozenset({JobState.Error, JobState.Processing}),
                                 1423619176.58, None)
    assert clauses == [
        "(State eq 2 or State eq 4)",
        "(Created ge datetime'2015-02-11T01:46:16.5800000' or State eq 2)",
    ]
    assert filter_clauses_for(None, None, "Enc'") == ["startswith(Name,'Enc''')"]


def test_id_batches_fit_the_query_limit_and_keep_every_id() -> None:
    ids = tuple(f"nb:jid:UUID:{i:08d}-327f-2347-90bb-3bf79f8559f1" for i in range(200))
    batches = list(id_batches(ids))
    assert [i for batch in batches for i in batch] == list(ids)
    assert len(batches) < 20
    for batch in batches:
        text = " or ".join(f"Id eq {string_literal(i)}" for i in batch)
        assert len(_encode(text)) <= MAX_QUERY_LENGTH


def test_encoding_matches_the_seed_request() -> None:
    text = "Id eq 'nb:jid:UUID:f3c43f94-327f-2347-90bb-3bf79f8559f1'"
    assert _encode(text) == "Id%20eq%20'nb%3Ajid%3AUUID%3Af3c43f94-327f-2347-90bb-3bf79f8559f1'"
