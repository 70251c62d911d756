"""MK.IO list queries: `$top`, `$skiptoken`, `$orderby`, `$filter` (ams-successors.md §1.2).

- `$top`: page size. Default and maximum are not documented; the simulator pages by
  DEFAULT_TOP (100) and refuses more than MAX_TOP (1000) or less than 1 with 400, so
  a client that asked for more does not silently get a short page (which the MK.IO docs
  let it read as the last one).
- `$skiptoken`: the offset of the first item (MK.IO's own next links carry it, and a
  production client builds it from `supplemental.pagination.end`); a non-negative
  integer, else 400. Offset paging, like MK.IO's: jobs created between two pages shift
  the rest.
- `$orderby`: `field [asc|desc]`, comma-separated, on the documented fields. The
  default order is not documented: the simulator lists oldest first (created, then id),
  so new jobs land on the last page. Every order is made total with `id`.
- `$filter`: OData with MK.IO's dialect: datetimes unquoted with `Z`
  (`properties/lastModified ge 2024-01-01T00:00:00Z`), the state a quoted string
  (`properties/state eq 'Finished'`), strings quoted with quotes doubled, eq/ne/gt/ge/
  lt/le, and/or/not and parentheses, `contains`/`startswith`/`endswith`. Field names
  are case-sensitive; `transform` takes a quoted name (its literal is not documented).

Anything else starting with `$` is refused with 400.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from exporter.simulator.match_cache import record_key, sort_pairs
from exporter.simulator.odata_filter import Dialect, EdmType, Filter, ParseError, parse_filter

DEFAULT_TOP = 100
MAX_TOP = 1000
_MAX_SKIP = 10**9

Record = Mapping[str, object]

DIALECT = Dialect(
    property_paths=True,
    case_insensitive_names=False,
    bare_datetimes=True,
    datetime_prefix=False,
    functions=True,
    function_names=frozenset({"contains", "startswith", "endswith"}),
    negation=True,
)


class QueryError(ValueError):
    """A query refused with 400; the message says why."""


@dataclass(frozen=True)
class OrderItem:
    property: str
    descending: bool = False


@dataclass(frozen=True)
class Collection:
    kind: str  # supplemental.kind
    properties: Mapping[str, EdmType]  # what $filter reads
    orderable: tuple[str, ...]
    default_order: tuple[OrderItem, ...]
    tiebreak: str  # a unique property, appended to every order


_USERS = ("createdBy", "updatedBy")
JOBS = Collection(
    kind="Job",
    properties={
        "name": EdmType.STRING,
        "id": EdmType.STRING,
        "transform": EdmType.STRING,
        "created": EdmType.DATETIME,
        "updated": EdmType.DATETIME,
        **dict.fromkeys((*_USERS, "createdByEmail", "createdByName", "updatedByEmail",
                         "updatedByName"), EdmType.STRING),
        "properties/created": EdmType.DATETIME,
        "properties/lastModified": EdmType.DATETIME,
        "properties/state": EdmType.STRING,
    },
    orderable=("created", "createdBy", "id", "name", "properties/created",
               "properties/lastModified", "properties/state", "updated", "updatedBy"),
    default_order=(OrderItem("properties/created"), OrderItem("id")),
    tiebreak="id",
)
TRANSFORMS = Collection(
    kind="Transform",
    properties={
        "name": EdmType.STRING,
        "id": EdmType.STRING,
        "created": EdmType.DATETIME,
        "updated": EdmType.DATETIME,
        "properties/created": EdmType.DATETIME,
        "properties/lastModified": EdmType.DATETIME,
    },
    orderable=("created", "id", "name", "properties/created", "properties/lastModified",
               "updated"),
    default_order=(OrderItem("name"),),
    tiebreak="id",
)


@dataclass(frozen=True)
class ListQuery:
    filter: Filter | None
    filter_text: str | None
    orderby_text: str | None
    order: tuple[OrderItem, ...]  # total
    top: int
    skip: int


def _count(name: str, value: str, low: int, high: int) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise QueryError(f"{name} must be a whole number, got '{value}'.")
    number = int(value)
    if not low <= number <= high:
        raise QueryError(f"{name} must be between {low} and {high}, got {number}.")
    return number


def parse_orderby(text: str, collection: Collection) -> tuple[OrderItem, ...]:
    items: list[OrderItem] = []
    for part in text.split(","):
        words = part.split()
        if not 1 <= len(words) <= 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise QueryError(f"Invalid $orderby item '{part.strip()}': expected "
                             "'<field> [asc|desc]'.")
        if words[0] not in collection.orderable:
            raise QueryError(f"$orderby on '{words[0]}' is not supported; use one of "
                             f"{', '.join(collection.orderable)}.")
        if any(item.property == words[0] for item in items):
            raise QueryError(f"'{words[0]}' appears more than once in $orderby.")
        items.append(OrderItem(words[0], len(words) == 2 and words[1] == "desc"))
    if not any(item.property == collection.tiebreak for item in items):
        items.append(OrderItem(collection.tiebreak))
    return tuple(items)


def parse_list_query(pairs: Sequence[tuple[str, str]], collection: Collection) -> ListQuery:
    options: dict[str, str] = {}
    for name, value in pairs:
        if not name.startswith("$"):
            continue
        if name not in ("$top", "$skiptoken", "$orderby", "$filter"):
            raise QueryError(f"The query parameter '{name}' is not supported.")
        if name in options:
            raise QueryError(f"The query parameter '{name}' was given more than once.")
        options[name] = value
    parsed = None
    filter_text = options.get("$filter")
    if filter_text is not None:
        try:
            parsed = parse_filter(filter_text, collection.properties, DIALECT)
        except ParseError as exc:
            raise QueryError(f"Invalid $filter: {exc}") from None
    orderby_text = options.get("$orderby")
    order = collection.default_order
    if orderby_text is not None:
        order = parse_orderby(orderby_text, collection)
    top = DEFAULT_TOP
    if "$top" in options:
        top = _count("$top", options["$top"], 1, MAX_TOP)
    skip = 0
    if "$skiptoken" in options:
        skip = _count("$skiptoken", options["$skiptoken"], 0, _MAX_SKIP)
    return ListQuery(parsed, filter_text, orderby_text, order, top, skip)


Key = tuple[Any, ...]
_P = TypeVar("_P")


def key_function(order: Sequence[OrderItem]) -> Callable[[Record], Key]:
    """record -> its sort key on the order's fields."""
    return record_key([item.property for item in order])


def arrange(keyed: list[tuple[Key, _P]], order: Sequence[OrderItem]) -> None:
    """Sort (sort key, item) pairs in place into the listing's order."""
    sort_pairs(keyed, [item.descending for item in order])


def select(records: Sequence[Record], query: ListQuery) -> tuple[list[Record], int]:
    """The page the query asks for, and how many records match in all."""
    matching = records if query.filter is None else [r for r in records if query.filter.matches(r)]
    keyed = list(zip(map(key_function(query.order), matching), matching, strict=True))
    arrange(keyed, query.order)
    return [r for _, r in keyed[query.skip:query.skip + query.top]], len(keyed)


def next_link(path: str, query: ListQuery, end: int) -> str:
    """Path only (MK.IO's clients resolve it against their base URL), with the whole query."""
    parts = [("$top", str(query.top))]
    if query.filter_text is not None:
        parts.append(("$filter", query.filter_text))
    if query.orderby_text is not None:
        parts.append(("$orderby", query.orderby_text))
    parts.append(("$skiptoken", str(end)))
    return path + "?" + "&".join(f"{name}={quote(value, safe='')}" for name, value in parts)
