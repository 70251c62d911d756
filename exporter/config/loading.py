"""Reading a YAML configuration file: safe loading, `${ENV}` expansion, and the
position (never the text) of a YAML syntax error."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import yaml

from exporter.config.errors import ConfigError

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def read_text(path: str, key: str = "config.file") -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{key}: {path} is not UTF-8 text") from None


def yaml_error_position(exc: yaml.YAMLError) -> str:
    """` at line L, column C`, or "". Only the position: PyYAML's own message quotes
    the offending line, which may hold a secret."""
    mark = getattr(exc, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


#: More aliases than this is not a configuration but an attack: a few hundred bytes
#: of nested aliases ("billion laughs") expand to gigabytes.
MAX_ALIASES = 100
#: Larger documents are refused before parsing.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


class _AliasCountingLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing documents with too many aliases."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _TooManyAliases()
        return super().compose_node(parent, index)


class _TooManyAliases(Exception):
    pass


def load_yaml(text: str, key: str = "config.file") -> Any:
    """The document as plain data (None for an empty one)."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise ConfigError(f"{key}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    loader = _AliasCountingLoader(text)
    try:
        return loader.get_single_data()
    except _TooManyAliases:
        raise ConfigError(f"{key}: more than {MAX_ALIASES} YAML aliases") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{key}: not valid YAML{yaml_error_position(exc)}") from None
    finally:
        loader.dispose()


#: Values visited when expanding `${ENV}`: aliases share nodes, so a small document
#: can stand for an exponential tree; a real configuration has a few hundred.
MAX_VALUES = 100_000


def expand_env(value: Any, environ: Mapping[str, str], path: str = "") -> Any:
    """Replace `${NAME}` in every string (`$$` is a literal `$`); the values are not
    parsed as YAML, so a secret with odd characters stays a string."""
    budget = [MAX_VALUES]

    def expand(value: Any, path: str) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(f"{path or '.'}: more than {MAX_VALUES} values "
                              "(YAML aliases expand too far)")
        if isinstance(value, str):
            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name is None:
                    return "$"
                if name not in environ:
                    raise ConfigError(f"{path or '.'}: environment variable {name} is not set")
                return environ[name]

            return _ENV_REF.sub(substitute, value)
        if isinstance(value, dict):
            return {k: expand(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    return expand(value, path)


def default_environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ
