"""v3 list queries: `$filter` and `$orderby` as AMS documents them, and keyset paging.

Jobs (../shared/ams-api.md §2): `name` eq; `properties/state` eq/ne with
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
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from exporter.simulator.odata_filter import Dialect, EdmType, Filter, ParseError, parse_filter
from exporter.states import JobState

JOB_PAGE = 500
TRANSFORM_PAGE = 1000
ENUM_JOB_STATE = "Microsoft.Media.JobState"
_ORDERED = ("name", "properties/created", "properties/lastModified")
_ALL = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_RANGE = frozenset({"gt", "ge", "lt", "le"})
_MAX_TOKEN = 8192

Record = Mapping[str, object]


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


JOBS = Collection(
    name="jobs",
    properties={
        "name": EdmType.STRING,
        "properties/state": EdmType.ENUM,
        "properties/created": EdmType.DATETIME,
        "properties/lastModified": EdmType.DATETIME,
    },
    dialect=Dialect(
        property_paths=True,
        case_insensitive_names=True,
        bare_datetimes=True,
        datetime_prefix=False,
        functions=False,
        negation=False,
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
        property_paths=True,
        case_insensitive_names=True,
        bare_datetimes=True,
        datetime_prefix=False,
        functions=False,
        negation=False,
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


def sort_key(record: Record, order: Sequence[OrderItem]) -> tuple[object, ...]:
    return tuple(record[item.property] for item in order)


def _compare(a: tuple[object, ...], b: tuple[object, ...], order: Sequence[OrderItem]) -> int:
    for left, right, item in zip(a, b, order):
        if left == right:
            continue
        smaller = left < right  # type: ignore[operator]
        return (1 if smaller else -1) if item.descending else (-1 if smaller else 1)
    return 0


def page(
    records: Sequence[Record], query: ListQuery, size: int
) -> tuple[list[Record], tuple[object, ...] | None]:
    """The page after the query's cursor, and the key to continue from (None at the end)."""
    order = query.order
    matching = records if query.filter is None else [r for r in records if query.filter.matches(r)]
    keyed = [(sort_key(r, order), r) for r in matching]
    if query.after is not None:
        after = query.after
        keyed = [kr for kr in keyed if _compare(kr[0], after, order) > 0]
    keyed.sort(key=functools.cmp_to_key(lambda x, y: _compare(x[0], y[0], order)))
    chosen = keyed[:size]
    more = len(keyed) > size
    return [r for _, r in chosen], (chosen[-1][0] if more else None)


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
    for value, item in zip(key, order):
        kind = collection.properties[item.property]
        wanted = int if kind is EdmType.DATETIME else str
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise invalid
    return tuple(key)
