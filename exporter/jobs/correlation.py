"""A job's correlationData as label values (`metrics.correlation_labels`).

Only the values of the configured keys are kept on a job, in the configured label
order, as one tuple of short interned strings (`Job.correlation`): a job never keeps
the whole correlationData. Without labels configured the tuple is the shared empty one.

What a value becomes: a string as it is (lone surrogates, which JSON allows but
UTF-8 cannot carry, become U+FFFD) cut to MAX_VALUE_LENGTH characters; a number its
JSON text (`42`, `1.5`); true and false `true` and `false`; anything else (null, an
object, a list) and a missing key the empty value. Keys match case-sensitively.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exporter.jobs.model import MAX_NAME_LENGTH

#: The label value of values past `metrics.correlation_label_limit` (refresh layer).
OTHER = "__other__"
#: A longer value is cut to this many characters, like a job name's bound.
MAX_VALUE_LENGTH = MAX_NAME_LENGTH
#: Distinct value tuples kept shared (jobs with equal values share one tuple); past
#: this many the table starts again, so odd data costs bounded memory.
MAX_SHARED_TUPLES = 10_000

_SURROGATES = re.compile("[\ud800-\udfff]")
_SHARED: dict[tuple[str, ...], tuple[str, ...]] = {}


@dataclass(frozen=True)
class CorrelationLabels:
    """The configured labels: their Prometheus names, the correlationData key each
    reads (same order), and how many distinct values a label may take per account."""

    names: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    limit: int = 100

    def __bool__(self) -> bool:
        return bool(self.names)

    @property
    def blank(self) -> tuple[str, ...]:
        """The values of a job that has none of the keys."""
        return shared(("",) * len(self.names))


NO_LABELS = CorrelationLabels()


def label_value(value: Any) -> str:
    """One correlationData value as a bounded label value (see the module doc)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float) and value == value:  # NaN is no value
        text = repr(value) if isinstance(value, float) else str(value)
    else:
        return ""
    text = text[:MAX_VALUE_LENGTH]
    if _SURROGATES.search(text):
        text = _SURROGATES.sub("\ufffd", text)
    return sys.intern(text)


def shared(values: tuple[str, ...]) -> tuple[str, ...]:
    """An equal tuple that jobs share (so 100,000 jobs hold a few tuples, not 100,000)."""
    found = _SHARED.get(values)
    if found is not None:
        return found
    if len(_SHARED) >= MAX_SHARED_TUPLES:
        _SHARED.clear()
    return _SHARED.setdefault(values, values)


def correlation_values(data: Any, keys: tuple[str, ...]) -> tuple[str, ...]:
    """The values of `keys` in a correlationData object (any JSON value: what is not
    an object has none of the keys)."""
    if not keys:
        return ()
    if not isinstance(data, Mapping):
        return shared(("",) * len(keys))
    return shared(tuple(label_value(data.get(key)) for key in keys))


def filled_in(values: tuple[str, ...], claimed: tuple[str, ...]) -> tuple[str, ...]:
    """`values` with its empty ones taken from `claimed` (what an event said): the
    API's values win where it has them."""
    if not claimed or ("" not in values and len(values) >= len(claimed)):
        return values
    padded = values + ("",) * (len(claimed) - len(values))
    result = tuple(value or claim for value, claim in zip(padded, claimed, strict=False))
    return values if result == values else shared(result)


def merged_claims(a: tuple[str, ...] | None,
                  b: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Two events' values at once, whatever the order: per label the greater
    non-empty one (events of one job agree; this only keeps the merge commutative)."""
    if a is None or b is None:
        return b if a is None else a
    return shared(tuple(max(x, y) for x, y in zip(a, b, strict=False)))
