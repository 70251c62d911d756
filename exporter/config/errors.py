"""Configuration errors that name the key path and never echo an input value.

pydantic's messages may quote the input (a client secret sits beside the key it
rejects), so ours are built from the error type and the location only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError


class ConfigError(ValueError):
    """An invalid configuration; str() is one line that starts with the key path."""


#: The discriminator functions of tagged unions, by name, and the key they read.
DISCRIMINATOR_KEYS = {"api_of()": ("api", "unsupported API"),
                      "method_of()": ("method", "unknown method")}

_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown key",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "union_tag_not_found": "expected a mapping",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "frozen_set_type": "expected a list",
    "set_type": "expected a list",
}


#: The keys that pick the model of a tagged union, with their defaults.
UNION_KEYS = {"api": "v2", "method": "default"}


def _is_tag(part: object, data: Any) -> bool:
    """Whether `part` is the tag pydantic put into the location for the tagged union
    that `data` was validated as (its `api` or `method` value)."""
    return isinstance(data, dict) and any(
        part == data.get(key, default) for key, default in UNION_KEYS.items())


def key_path(loc: Iterable[Any], data: Any = None) -> str:
    """('accounts', 1, 'v2', 'auth', 'client_secret', 'method') ->
    accounts[1].auth.method. The tag pydantic puts into the location after a
    tagged union (the `api` or `method` value) is dropped, once per mapping, so a
    key that happens to share the tag's name is still shown."""
    path = ""
    tag_dropped = False
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            data = data[part] if isinstance(data, list) and 0 <= part < len(data) else None
            tag_dropped = False
        elif not tag_dropped and _is_tag(part, data):
            tag_dropped = True
        else:
            path = f"{path}.{part}" if path else str(part)
            data = data.get(part) if isinstance(data, dict) else None
            tag_dropped = False
    return path or "."


def _message(error: Mapping[str, Any]) -> tuple[str, str]:
    """(extra key to append to the path, message) of one pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "union_tag_invalid":
        key, text = DISCRIMINATOR_KEYS.get(str(ctx.get("discriminator")), ("", "unknown kind"))
        return key, f"{text} {ctx.get('tag')!r} (one of: {ctx.get('expected_tags', '')})"
    if kind in ("value_error", "assertion_error"):
        text = str(error["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            text = text.removeprefix(prefix)
        return "", text
    if kind in ("greater_than", "greater_than_equal"):
        return "", "expected a positive number"
    if kind == "too_short":
        return "", "required, a list with at least one entry"
    if kind == "literal_error":
        return "", f"expected one of {ctx.get('expected', '')}"
    return "", _MESSAGES.get(kind, "invalid value")


def from_validation_error(exc: ValidationError, data: Any) -> ConfigError:
    """The first error as a ConfigError, `path: message` on one line; `data` is the
    validated input, used only to tell keys from union tags in the location."""
    error = exc.errors(include_url=False, include_input=False)[0]
    extra, message = _message(error)
    loc = [*error["loc"], *([extra] if extra else [])]
    return ConfigError(f"{key_path(loc, data)}: {message}".replace("\n", " "))
