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


def load_yaml(text: str, key: str = "config.file") -> Any:
    """The document as plain data (None for an empty one)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{key}: not valid YAML{yaml_error_position(exc)}") from None


def expand_env(value: Any, environ: Mapping[str, str], path: str = "") -> Any:
    """Replace `${NAME}` in every string (`$$` is a literal `$`); the values are not
    parsed as YAML, so a secret with odd characters stays a string."""
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
        return {k: expand_env(v, environ, f"{path}.{k}" if path else str(k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, environ, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def default_environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ
