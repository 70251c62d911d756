"""The YAML configuration: loading, `${ENV}` expansion and strict validation.

Every error is a ConfigError whose message starts with the key path, e.g.
`accounts[1].auth.method: unknown method 'foo'`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

from exporter.states import JobState

AUTH_KEYS: dict[str, frozenset[str]] = {
    "default": frozenset({"client_id", "authority_host"}),
    "client_secret": frozenset({"tenant_id", "client_id", "client_secret", "client_secret_file",
                                "authority_host"}),
    "managed_identity": frozenset({"client_id"}),
    "workload_identity": frozenset({"tenant_id", "client_id", "token_file", "authority_host"}),
    "azure_cli": frozenset(),
    "token_file": frozenset({"path"}),
    "none": frozenset(),
}
API_VERSIONS = ("v2", "v3")
ODATA_FORMATS = ("light", "verbose")
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(ValueError):
    """An invalid configuration; str() is one line that starts with the key path."""


@dataclass(frozen=True)
class RefreshConfig:
    min_interval: float = 30.0
    full_resync: float = 900.0
    timeout: float = 20.0


@dataclass(frozen=True)
class RetentionConfig:
    finished: float = 6 * 3600.0
    failed: float = 24 * 3600.0


@dataclass(frozen=True)
class AuthConfig:
    method: str = "default"
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobSelection:
    ids: tuple[str, ...] = ()
    name_regex: re.Pattern[str] | None = None
    states: frozenset[JobState] | None = None


@dataclass(frozen=True)
class AccountConfig:
    name: str
    api: str
    #: v2: the account's REST endpoint; v3: the ARM endpoint.
    endpoint: str
    auth: AuthConfig = field(default_factory=AuthConfig)
    jobs: JobSelection = field(default_factory=JobSelection)
    progress: bool = False
    max_requests_per_second: float = 10.0
    odata_format: str = "light"
    subscription_id: str = ""
    resource_group: str = ""
    account_name: str = ""
    #: v3 transforms to read; empty: discover them all.
    transforms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    accounts: tuple[AccountConfig, ...]
    refresh: RefreshConfig = field(default_factory=RefreshConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    lookback: float = 48 * 3600.0
    max_jobs_per_account: int = 20000


def parse_duration(value: Any, path: str) -> float:
    """`30s`, `15m`, `6h`, `2d`, `1h30m`, `500ms` -> seconds."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ConfigError(f"{path}: expected a duration such as 30s, 15m, 6h or 2d, got {value!r}")
    text = value.strip()
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ConfigError(f"{path}: invalid duration {value!r} (use e.g. 30s, 15m, 6h, 2d)")
    return total


def load_config(path: str, environ: Mapping[str, str] | None = None) -> Config:
    """Read, expand and validate a config file."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(f"config.file: cannot read {path}: {exc.strerror}") from None
    return parse_config(text, environ if environ is not None else os.environ)


def yaml_error_position(exc: yaml.YAMLError) -> str:
    """` at line L, column C`, or "". Only the position: PyYAML's own message quotes
    the offending line, which may hold a secret."""
    mark = getattr(exc, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def parse_config(text: str, environ: Mapping[str, str]) -> Config:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config.file: not valid YAML{yaml_error_position(exc)}") from None
    if raw is None:
        raw = {}
    return _build_config(_expand_env(raw, "", environ))


def _expand_env(value: Any, path: str, environ: Mapping[str, str]) -> Any:
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
        return {k: _expand_env(v, _join(path, str(k)), environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{path}[{i}]", environ) for i, v in enumerate(value)]
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Section:
    """A mapping read key by key; keys nobody asked for are errors."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise ConfigError(f"{path or '.'}: expected a mapping, got {_kind(value)}")
        self.data = value
        self.path = path
        self.seen: set[str] = set()

    def key_path(self, key: str) -> str:
        return _join(self.path, key)

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return self.data.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.data

    def required(self, key: str) -> Any:
        self.seen.add(key)
        if self.data.get(key) in (None, ""):
            raise ConfigError(f"{self.key_path(key)}: required")
        return self.data[key]

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.get(key, default)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{self.key_path(key)}: expected a string, got {_kind(value)}")
        return value

    def duration(self, key: str, default: float) -> float:
        return parse_duration(self.get(key), self.key_path(key)) if self.has(key) else default

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key_path(key)}: expected true or false, got {value!r}")
        return value

    def number(self, key: str, default: float, integer: bool = False) -> float:
        value = self.get(key, default)
        wanted = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted) or value <= 0:
            kind = "a positive integer" if integer else "a positive number"
            raise ConfigError(f"{self.key_path(key)}: expected {kind}, got {value!r}")
        return value

    def finish(self) -> None:
        unknown = sorted(str(k) for k in self.data if k not in self.seen)
        if unknown:
            raise ConfigError(f"{self.key_path(unknown[0])}: unknown key")


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _build_config(raw: Any) -> Config:
    top = _Section(raw, "")
    refresh = _Section(top.get("refresh") or {}, "refresh")
    refresh_config = RefreshConfig(
        min_interval=refresh.duration("min_interval", RefreshConfig.min_interval),
        full_resync=refresh.duration("full_resync", RefreshConfig.full_resync),
        timeout=refresh.duration("timeout", RefreshConfig.timeout),
    )
    if refresh_config.timeout <= 0:
        raise ConfigError("refresh.timeout: must be more than 0s")
    refresh.finish()
    retention = _Section(top.get("retention") or {}, "retention")
    retention_config = RetentionConfig(
        finished=retention.duration("finished", RetentionConfig.finished),
        failed=retention.duration("failed", RetentionConfig.failed),
    )
    retention.finish()
    lookback = top.duration("lookback", Config.lookback)
    max_jobs = int(top.number("max_jobs_per_account", Config.max_jobs_per_account, integer=True))
    accounts_raw = top.get("accounts")
    if not isinstance(accounts_raw, list) or not accounts_raw:
        raise ConfigError("accounts: required, a list with at least one account")
    accounts = tuple(_build_account(item, f"accounts[{i}]") for i, item in enumerate(accounts_raw))
    names = [a.name for a in accounts]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ConfigError(f"accounts[{index}].name: duplicate account name {name!r}")
    top.finish()
    return Config(
        accounts=accounts,
        refresh=refresh_config,
        retention=retention_config,
        lookback=lookback,
        max_jobs_per_account=max_jobs,
    )


def _build_account(raw: Any, path: str) -> AccountConfig:
    section = _Section(raw, path)
    name = section.required("name")
    if not isinstance(name, str):
        raise ConfigError(f"{section.key_path('name')}: expected a string, got {_kind(name)}")
    api = section.string("api", "v2")
    if api not in API_VERSIONS:
        raise ConfigError(f"{section.key_path('api')}: unsupported API {api!r} "
                          f"(one of: {', '.join(API_VERSIONS)})")
    common = {
        "name": name,
        "api": api,
        "auth": _build_auth(section.get("auth") or {"method": "default"},
                            section.key_path("auth")),
        "jobs": _build_selection(section.get("jobs") or {}, section.key_path("jobs")),
        "progress": section.boolean("progress", api == "v3"),
        "max_requests_per_second": section.number(
            "max_requests_per_second", AccountConfig.max_requests_per_second),
    }
    account = _build_v2(section, common) if api == "v2" else _build_v3(section, common)
    section.finish()
    return account


def _build_v2(section: _Section, common: dict[str, Any]) -> AccountConfig:
    _only_for(section, "v2", ("subscription_id", "resource_group", "account_name",
                              "transforms", "arm_endpoint"))
    endpoint = _url(section, "endpoint", section.required("endpoint"),
                    "https://myacct.restv2.westeurope.media.azure.net/api/")
    if not endpoint.endswith("/"):
        endpoint += "/"
    odata_format = section.string("odata_format", "light")
    if odata_format not in ODATA_FORMATS:
        raise ConfigError(f"{section.key_path('odata_format')}: expected one of "
                          f"{', '.join(ODATA_FORMATS)}, got {odata_format!r}")
    return AccountConfig(endpoint=endpoint, odata_format=odata_format, **common)


def _build_v3(section: _Section, common: dict[str, Any]) -> AccountConfig:
    _only_for(section, "v3", ("endpoint", "odata_format"))
    strings = {}
    for key in ("subscription_id", "resource_group"):
        value = section.required(key)
        if not isinstance(value, str):
            raise ConfigError(f"{section.key_path(key)}: expected a string, got {_kind(value)}")
        strings[key] = value
    account_name = section.string("account_name") or common["name"]
    transforms = section.get("transforms") or []
    if not isinstance(transforms, list) or not all(
            isinstance(t, str) and t for t in transforms):
        raise ConfigError(f"{section.key_path('transforms')}: expected a list of transform "
                          "names (empty: discover all)")
    arm = _url(section, "arm_endpoint", section.get("arm_endpoint", DEFAULT_ARM_ENDPOINT),
               DEFAULT_ARM_ENDPOINT)
    return AccountConfig(endpoint=arm.rstrip("/"), account_name=account_name,
                         transforms=tuple(dict.fromkeys(transforms)), **strings, **common)


def _only_for(section: _Section, api: str, foreign: tuple[str, ...]) -> None:
    for key in foreign:
        if section.has(key):
            other = "v3" if api == "v2" else "v2"
            raise ConfigError(f"{section.key_path(key)}: only for api {other} accounts")


def _url(section: _Section, key: str, value: Any, example: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{section.key_path(key)}: expected a URL, got {_kind(value)}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError(f"{section.key_path(key)}: expected an http(s) URL such as {example}")
    return value


def _build_auth(raw: Any, path: str) -> AuthConfig:
    section = _Section(raw, path)
    method = section.string("method", "default")
    if method not in AUTH_KEYS:
        raise ConfigError(f"{section.key_path('method')}: unknown method {method!r} "
                          f"(one of: {', '.join(AUTH_KEYS)})")
    options = {}
    for key in sorted(AUTH_KEYS[method]):
        value = section.string(key)
        if value:
            options[key] = value
    if method == "token_file" and "path" not in options:
        raise ConfigError(f"{section.key_path('path')}: required for method token_file")
    if "client_secret" in options and "client_secret_file" in options:
        raise ConfigError(f"{section.key_path('client_secret_file')}: give client_secret "
                          "or client_secret_file, not both")
    section.finish()
    return AuthConfig(method=method, options=options)


def _build_selection(raw: Any, path: str) -> JobSelection:
    section = _Section(raw, path)
    ids = section.get("ids") or []
    if not isinstance(ids, list):
        raise ConfigError(f"{section.key_path('ids')}: expected a list of job ids")
    for index, job_id in enumerate(ids):
        if not isinstance(job_id, str) or not job_id:
            raise ConfigError(f"{section.key_path('ids')}[{index}]: expected a job id string")
    pattern = section.string("name_regex")
    regex = None
    if pattern is not None:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{section.key_path('name_regex')}: invalid regular "
                              f"expression: {exc}") from None
    states_raw = section.get("states")
    states = None
    if states_raw is not None:
        if not isinstance(states_raw, list) or not states_raw:
            raise ConfigError(f"{section.key_path('states')}: expected a list of states")
        states = frozenset(_state(s, f"{section.key_path('states')}[{i}]")
                           for i, s in enumerate(states_raw))
    section.finish()
    return JobSelection(ids=tuple(dict.fromkeys(ids)), name_regex=regex, states=states)


def _state(value: Any, path: str) -> JobState:
    if isinstance(value, str) and value in JobState.__members__:
        return JobState[value]
    names = ", ".join(JobState.__members__)
    raise ConfigError(f"{path}: unknown state {value!r} (one of: {names})")
