"""Serialising entities and errors as OData v3 JSON, light (minimal metadata) or verbose."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

from exporter.simulator.fidelity import Traits, with_seventh_digit
from exporter.simulator.odata_filter import EdmType
from exporter.simulator.v2_entities import TRAITS, EntitySet, Record

LIGHT = "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"
VERBOSE = "application/json;odata=verbose;charset=utf-8"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DATE_MARKER = re.compile(r'"/Date\((-?[0-9]+)\)/"')


def light_datetime(us: int) -> str:
    """UTC, no `Z`, fractional seconds with trailing zeros stripped: 2015-02-11T01:46:16.58."""
    seconds, micros = divmod(us, 1_000_000)
    moment = _EPOCH + timedelta(seconds=seconds)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    return f"{text}.{micros:06d}".rstrip("0") if micros else text


def _dumps(payload: object) -> bytes:
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows it escaped, UTF-8 does not)
        return json.dumps(payload, separators=(",", ":")).encode("ascii")


def _traits(record: Record) -> Traits | None:
    traits = record.get(TRAITS)
    return traits if isinstance(traits, Traits) else None


def _items(
    entity_set: EntitySet, field: str, value: list, date: Callable[[int], str]
) -> list:
    """Items of an inline collection with their datetime fields written by `date`."""
    typed = entity_set.item_types.get(field)
    if not typed:
        return value
    return [{k: date(v) if isinstance(v, int) and typed.get(k) is EdmType.DATETIME else v
             for k, v in item.items()} for item in value]


def _light_value(
    entity_set: EntitySet, field: str, value: object, traits: Traits | None = None
) -> object:
    if isinstance(value, int) and entity_set.types.get(field) is EdmType.DATETIME:
        return with_seventh_digit(light_datetime(value), traits)
    if isinstance(value, list) and field in entity_set.item_types:
        return _items(entity_set, field,  value,
                      lambda us: with_seventh_digit(light_datetime(us), traits))
    return value


def _light_entity(entity_set: EntitySet, record: Record, fields: Sequence[str]) -> dict:
    traits = _traits(record)
    return {f: _light_value(entity_set, f, record[f], traits) for f in fields}


def _context(base: str, entity_set: EntitySet, select: Sequence[str] | None, element: bool) -> str:
    """The odata.metadata URL; OData v3 appends `/@Element` and the `$select` list."""
    context = f"{base}$metadata#{entity_set.name}"
    if element:
        context += "/@Element"
    if select is not None:
        context += "&$select=" + ",".join(select)
    return context


def _verbose_entity(
    base: str, entity_set: EntitySet, record: Record, fields: Sequence[str]
) -> dict:
    uri = base + entity_set.key_path(str(record["Id"]))
    entity: dict[str, object] = {
        "__metadata": {"id": uri, "uri": uri, "type": entity_set.type_name}
    }
    for link in entity_set.navigation:
        entity[link] = {"__deferred": {"uri": f"{uri}/{link}"}}
    traits = _traits(record)
    for field in fields:
        entity[field] = _verbose_value(entity_set, field, record[field], traits)
    return entity


def _verbose_date(us: int, traits: Traits | None) -> str:
    """`/Date(ms)/`, or (fidelity, for some jobs) ISO 8601 UTC with Z and 0-7 digits."""
    if traits is not None and traits.iso_verbose:
        return with_seventh_digit(light_datetime(us), traits) + "Z"
    return f"/Date({us // 1000})/"


def _verbose_value(
    entity_set: EntitySet, field: str, value: object, traits: Traits | None = None
) -> object:
    item_type = entity_set.collections.get(field)
    if item_type is not None and isinstance(value, list):
        value = _items(entity_set, field, value, lambda us: _verbose_date(us, traits))
        # Captured answers had inline items without __metadata: fidelity leaves it out.
        items = value if traits is not None else [
            {"__metadata": {"type": item_type}, **item} for item in value]
        return {"__metadata": {"type": f"Collection({item_type})"}, "results": items}
    if isinstance(value, int) and entity_set.types.get(field) is EdmType.DATETIME:
        return _verbose_date(value, traits)
    return value


def _verbose_dumps(payload: object) -> bytes:
    r"""JSON with dates written the .NET way, `"\/Date(ms)\/"`, slashes escaped in the text.

    A string that merely looks like such a date gets escaped too; it decodes the same.
    """
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return _DATE_MARKER.sub(r'"\\/Date(\1)\\/"', text).encode("utf-8")


def render(
    base: str,
    entity_set: EntitySet,
    records: Sequence[Record],
    *,
    verbose: bool,
    single: bool,
    select: Sequence[str] | None = None,
) -> bytes:
    """A collection (or, with `single`, the one record) as a response body."""
    fields = select or entity_set.fields
    if verbose:
        entities = [_verbose_entity(base, entity_set, r, fields) for r in records]
        return _verbose_dumps({"d": entities[0] if single else {"results": entities}})
    context = {"odata.metadata": _context(base, entity_set, select, element=single)}
    light = [_light_entity(entity_set, r, fields) for r in records]
    return _dumps(context | light[0] if single else context | {"value": light})


def error_body(code: str, message: str) -> bytes:
    """OData v3 JSON error (the shape is the OData convention; unconfirmed for AMS)."""
    return _dumps({"odata.error": {"code": code, "message": {"lang": "en-US", "value": message}}})
