"""v3 list queries: `$filter` and `$orderby` as AMS documents them, and keyset paging.

Jobs (docs/ams-api.md §2): `name` eq; `properties/state` eq/ne with
`Microsoft.Media.JobState'Processing'`; `properties/created` and `properties/lastModified`
gt/ge/lt/le with unquoted ISO datetimes; and/or with parentheses; `$orderby` on name,
properties/created, properties/lastModified, asc (default) or desc. Property names and
enum members match case-insensitively; operators and asc/desc are lower case, as in OData.
Transforms: name, properties/created and properties/lastModified with every comparison
operator, and the same ordering (from the AMS "filtering, ordering, paging" page and the
2022-07-01 examples; unconfirmed beyond that).

Paging is keyset paging. The order is always total: the requested `$orderby`, then `name`
ascending unless already in it (names are unique in a collection); without `$orderby` it is
properties/created then name for jobs, name for transforms. The `$skiptoken` is the sort
key of the last item served plus the ordering it belongs to, so the next page starts
strictly after that item: jobs added or removed meanwhile neither shift nor repeat
anything, and new jobs that sort after the cursor show up on a later page. Keys on name
and created never change; a job whose lastModified (or state) changes between two pages
can move across the cursor, as it would with any cursor on a changing value.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from exporter.jobs.states import JobState
from exporter.simulator.match_cache import record_key, sort_pairs
from exporter.simulator.odata_filter import Dialect, EdmType, Filter, ParseError, parse_filter

JOB_PAGE = 500
TRANSFORM_PAGE = 1000
ENUM_JOB_STATE = "Microsoft.Media.JobState"
_ORDERED = ("name", "properties/created", "properties/lastModified")
_ALL = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_RANGE = frozenset({"gt", "ge", "lt", "le"})
_MAX_TOKEN = 8192

Record = Mapping[str, object]


Key = tuple[Any, ...]
_P = TypeVar("_P")


class QueryError(ValueError):
    """A query we refuse with 400 BadRequest; the message says why."""


@dataclass(frozen=True)
class OrderItem:
    property: str
    descending: bool = False


@dataclass(frozen=True)
class Collection:
    """What one kind of listing accepts and how it pages."""

    name: str
    properties: Mapping[str, EdmType]
    dialect: Dialect
    orderable: tuple[str, ...]
    default_order: tuple[OrderItem, ...]
    page_size: int


#: What ARM's filters allow for every collection: `properties/...` paths, names
#: matched case-insensitively, unquoted datetimes, no functions and no `not`.
_ARM_FILTERS: dict[str, Any] = {
    "property_paths": True,
    "case_insensitive_names": True,
    "bare_datetimes": True,
    "datetime_prefix": False,
    "functions": False,
    "negation": False,
}

JOBS = Collection(
    name="jobs",
    properties={
        "name": EdmType.STRING,
        "properties/state": EdmType.ENUM,
        "properties/created": EdmType.DATETIME,
        "properties/lastModified": EdmType.DATETIME,
    },
    dialect=Dialect(
        **_ARM_FILTERS,
        enums={ENUM_JOB_STATE: tuple(state.name for state in JobState)},
        enum_properties={"properties/state": ENUM_JOB_STATE},
        operators={
            "name": frozenset({"eq"}),
            "properties/state": frozenset({"eq", "ne"}),
            "properties/created": _RANGE,
            "properties/lastModified": _RANGE,
        },
    ),
    orderable=_ORDERED,
    default_order=(OrderItem("properties/created"), OrderItem("name")),
    page_size=JOB_PAGE,
)

TRANSFORMS = Collection(
    name="transforms",
    properties={
        "name": EdmType.STRING,
        "properties/created": EdmType.DATETIME,
        "properties/lastModified": EdmType.DATETIME,
    },
    dialect=Dialect(
        **_ARM_FILTERS,
        operators=dict.fromkeys(_ORDERED, _ALL),
    ),
    orderable=_ORDERED,
    default_order=(OrderItem("name"),),
    page_size=TRANSFORM_PAGE,
)


@dataclass(frozen=True)
class ListQuery:
    filter: Filter | None
    filter_text: str | None  # as sent, to carry into the next link
    orderby_text: str | None
    order: tuple[OrderItem, ...]  # total order
    after: tuple[object, ...] | None  # sort key of the last item already served


def _option_values(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """`$` options by lower-case name; anything but $filter/$orderby/$skiptoken is refused."""
    seen: dict[str, str] = {}
    for name, value in pairs:
        if not name.startswith("$"):
            continue
        key = name.lower()
        if key not in ("$filter", "$orderby", "$skiptoken"):
            raise QueryError(f"The query parameter '{name}' is not supported.")
        if key in seen:
            raise QueryError(f"The query parameter '{name}' was given more than once.")
        seen[key] = value
    return seen


def parse_orderby(text: str, collection: Collection) -> tuple[OrderItem, ...]:
    items: list[OrderItem] = []
    for part in text.split(","):
        words = part.split()
        if not 1 <= len(words) <= 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise QueryError(f"Invalid $orderby item '{part.strip()}': expected "
                             "'<property> [asc|desc]'.")
        folded = words[0].lower()
        name = next((p for p in collection.orderable if p.lower() == folded), None)
        if name is None:
            raise QueryError(f"$orderby on '{words[0]}' is not supported; use one of "
                             f"{', '.join(collection.orderable)}.")
        if any(item.property == name for item in items):
            raise QueryError(f"'{name}' appears more than once in $orderby.")
        items.append(OrderItem(name, len(words) == 2 and words[1] == "desc"))
    return tuple(items)


def total_order(items: Sequence[OrderItem]) -> tuple[OrderItem, ...]:
    if any(item.property == "name" for item in items):
        return tuple(items)
    return (*items, OrderItem("name"))


def parse_list_query(pairs: Sequence[tuple[str, str]], collection: Collection) -> ListQuery:
    options = _option_values(pairs)
    parsed: Filter | None = None
    filter_text = options.get("$filter")
    if filter_text is not None:
        try:
            parsed = parse_filter(filter_text, collection.properties, collection.dialect)
        except ParseError as exc:
            raise QueryError(f"Invalid $filter: {exc}") from None
    orderby_text = options.get("$orderby")
    order = collection.default_order
    if orderby_text is not None:
        order = total_order(parse_orderby(orderby_text, collection))
    after = None
    if "$skiptoken" in options:
        after = decode_skiptoken(options["$skiptoken"], order, collection)
    return ListQuery(parsed, filter_text, orderby_text, order, after)


# ---------------------------------------------------------------- ordering and paging


def key_function(order: Sequence[OrderItem]) -> Callable[[Record], Key]:
    """record -> its sort key (a tuple, even for one property)."""
    return record_key([item.property for item in order])


def _compare(a: tuple[object, ...], b: tuple[object, ...], order: Sequence[OrderItem]) -> int:
    for left, right, item in zip(a, b, order, strict=True):
        if left == right:
            continue
        smaller = left < right  # type: ignore[operator]
        return (1 if smaller else -1) if item.descending else (-1 if smaller else 1)
    return 0


def _first_after(keyed: Sequence[tuple[Key, object]], after: Key,
                 order: Sequence[OrderItem]) -> int:
    """Index of the first sorted item strictly after the cursor (binary search)."""
    low, high = 0, len(keyed)
    while low < high:
        middle = (low + high) // 2
        if _compare(keyed[middle][0], after, order) > 0:
            high = middle
        else:
            low = middle + 1
    return low


def arrange(keyed: list[tuple[Key, _P]], order: Sequence[OrderItem]) -> None:
    """Sort (sort key, item) pairs in place into the listing's order."""
    sort_pairs(keyed, [item.descending for item in order])


def page_of(keyed: Sequence[tuple[Key, _P]], query: ListQuery,
            size: int) -> tuple[list[_P], Key | None]:
    """The page of arranged (sort key, item) pairs after the query's cursor, and the key
    to continue from (None at the end)."""
    start = 0 if query.after is None else _first_after(keyed, query.after, query.order)
    chosen = keyed[start:start + size]
    more = len(keyed) > start + size
    return [item for _, item in chosen], (chosen[-1][0] if more else None)


def page(records: Sequence[Record], query: ListQuery, size: int) -> tuple[list[Record], Key | None]:
    """The page of `records` after the query's cursor, and the key to continue from."""
    matching = records if query.filter is None else [r for r in records if query.filter.matches(r)]
    keyed = list(zip(map(key_function(query.order), matching), matching, strict=True))
    arrange(keyed, query.order)
    return page_of(keyed, query, size)


def reads_changing_values(query: ListQuery) -> bool:
    """Does the query filter or order on state or lastModified (values that change)?"""
    used = {item.property for item in query.order}
    if query.filter is not None:
        used |= query.filter.properties
    return bool(used & {"properties/state", "properties/lastModified"})


def _order_text(order: Sequence[OrderItem]) -> list[list[object]]:
    return [[item.property, item.descending] for item in order]


def encode_skiptoken(key: tuple[object, ...], order: Sequence[OrderItem]) -> str:
    payload = json.dumps({"o": _order_text(order), "k": list(key)}, separators=(",", ":"),
                         ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")


def decode_skiptoken(
    token: str, order: Sequence[OrderItem], collection: Collection
) -> tuple[object, ...]:
    """The cursor in `token`; it must belong to the same ordering and have valid values."""
    invalid = QueryError("The $skiptoken is not valid for this request.")
    if not token or len(token) > _MAX_TOKEN:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("o") != _order_text(order):
        raise invalid
    key = payload.get("k")
    if not isinstance(key, list) or len(key) != len(order):
        raise invalid
    for value, item in zip(key, order, strict=True):
        kind = collection.properties[item.property]
        wanted = int if kind is EdmType.DATETIME else str
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise invalid
    return tuple(key)
