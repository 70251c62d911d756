"""Decoding and validating the query options of a v2 request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from exporter.simulator.odata_filter import Filter, ParseError, parse_filter
from exporter.simulator.v2_entities import EntitySet

MAX_PAGE = 1000  # entities per response, the documented AMS cap
_INT32_MAX = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}", re.ASCII)

# Documented for AMS v2: $filter, $top, $skip, $select. Everything else starting with `$`
# ($expand, $orderby, $inlinecount, $format, $skiptoken, ...) is answered with 400: AMS
# documents $expand as unsupported and says nothing of the others, so we refuse rather than
# guess. Options without `$` are custom options, which OData ignores.
SUPPORTED = ("$filter", "$top", "$skip", "$select")


class QueryError(ValueError):
    """A query option we refuse; the message is sent back in the 400 body."""


@dataclass(frozen=True)
class QueryOptions:
    filter: Filter | None = None
    top: int = MAX_PAGE  # already capped at MAX_PAGE
    skip: int = 0
    select: tuple[str, ...] | None = None  # canonical order; None means every field


def decode_query(query: str, errors: str = "strict") -> list[tuple[str, str]]:
    """Percent-decode `a=b&c=d` (`+` as space, as ASP.NET does); names keep their order."""
    return parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors=errors)


def _count(name: str, value: str) -> int:
    if _DIGITS.fullmatch(value) is None or int(value) > _INT32_MAX:
        raise QueryError(f"Invalid value '{value}' for {name}: a non-negative integer expected.")
    return int(value)


def _select(value: str, entity_set: EntitySet) -> tuple[str, ...] | None:
    names = [n.strip() for n in value.split(",")]
    if "*" in names:
        return None
    for name in names:
        if name not in entity_set.fields:
            raise QueryError(f"$select: '{name}' is not a property of {entity_set.type_name}.")
    return tuple(f for f in entity_set.fields if f in names)


def parse_options(
    pairs: list[tuple[str, str]], entity_set: EntitySet, single: bool = False
) -> QueryOptions:
    """Validate the `$` options; `single` is for one-entity resources (only $select)."""
    seen: dict[str, str] = {}
    for name, value in pairs:
        if not name.startswith("$"):
            continue
        if name == "$expand":
            raise QueryError("The query option '$expand' is not supported by this service.")
        if name not in SUPPORTED:
            raise QueryError(f"The query option '{name}' is not supported.")
        if name in seen:
            raise QueryError(f"The query option '{name}' was specified more than once.")
        if single and name != "$select":
            raise QueryError(f"Query option {name} cannot be applied to a single entity.")
        seen[name] = value
    parsed: Filter | None = None
    if "$filter" in seen:
        try:
            parsed = parse_filter(seen["$filter"], entity_set.types)
        except ParseError as exc:
            raise QueryError(f"Invalid $filter: {exc}") from None
    return QueryOptions(
        filter=parsed,
        top=min(_count("$top", seen["$top"]), MAX_PAGE) if "$top" in seen else MAX_PAGE,
        skip=_count("$skip", seen["$skip"]) if "$skip" in seen else 0,
        select=_select(seen["$select"], entity_set) if "$select" in seen else None,
    )
