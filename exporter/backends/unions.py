"""Tagged unions of configuration models, picked by one key (`api` of an account,
`method` of its auth)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag


def tag_reader(key: str, default: str) -> Callable[[Any], str | None]:
    """The discriminator of a union picked by `key` (`default` when absent), named
    `<key>_of`: exporter.config.errors names the key of a bad tag by that name."""
    def read(value: Any) -> str | None:
        if isinstance(value, dict):
            tag = value.get(key, default)
            return tag if isinstance(tag, str) else "?"
        return getattr(value, key, None)

    read.__name__ = read.__qualname__ = f"{key}_of"
    return read


def tagged_union(models: Mapping[str, type[Any]], key: str, default: str) -> Any:
    """The union of `models`, each tagged with its name, picked by `key`."""
    members = tuple(Annotated[model, Tag(tag)] for tag, model in models.items())
    return Annotated[Union[members], Discriminator(tag_reader(key, default))]  # noqa: UP007
