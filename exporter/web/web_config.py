"""The `--web.config.file` format: its models, and loading one into a `WebConfig`.

The file has the exporter-toolkit format Go exporters use, so one file (and one
habit) serves both. It is validated by the same machinery as the main config file
(StrictModel, `from_validation_error`): errors are one line, `web.config.file:
<key path>: <problem>`, and never quote a value (a password pasted instead of its
hash is the usual mistake). Watching and reloading the file: exporter.web.config_file.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from exporter.config.errors import ConfigError, from_validation_error
from exporter.config.loading import load_yaml, read_text
from exporter.config.types import StrictModel
from exporter.web.tls import (
    CLIENT_AUTH_TYPES,
    GO_CIPHER_SUITES,
    TLS_VERSIONS,
    TLSError,
    TLSSettings,
    build_ssl_context,
)

KEY = "web.config.file"
#: Our extension: paths served without basic auth, so kubelet probes (which cannot
#: send credentials without embedding them in the pod spec) keep working.
DEFAULT_UNAUTHENTICATED_PATHS = ("/healthz", "/readyz")
HTPASSWD_HINT = "make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n'"
#: Headers the server sets itself; a configured value would contradict it.
RESERVED_HEADERS = frozenset({"content-type", "content-length", "content-encoding",
                              "transfer-encoding", "connection", "www-authenticate",
                              "server", "date"})
#: Headers whose values browsers understand only from a short list.
HEADER_CHOICES = {"x-frame-options": ("deny", "sameorigin"),
                  "x-content-type-options": ("nosniff",)}
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
#: exporter-toolkit keys this exporter refuses rather than silently ignores, so a file
#: never looks stricter than it is. They are fields (listed first in their model, so
#: reported before anything else) whose validator always fails.
UNSUPPORTED = {
    "rate_limit": "not supported by this exporter",
    "cert": "inline PEM is not supported: use cert_file",
    "key": "inline PEM is not supported: use key_file",
    "client_ca": "inline PEM is not supported: use client_ca_file",
    "client_allowed_sans": "not supported: use a client CA that signs only allowed clients",
}


class WebConfigError(ConfigError):
    """An invalid web config file: `web.config.file: <key path>: <problem>`."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{KEY}: {message}")

    @classmethod
    def from_config_error(cls, error: ConfigError) -> WebConfigError:
        return cls(str(error).removeprefix(f"{KEY}: "))


# ------------------------------------------------------------- field validators
# Each raises ValueError with the message only; the key path comes from pydantic's
# location of the error (exporter.config.errors).

def _choice(choices: Mapping[str, Any], default: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value is None or value == "":
            return default
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return check


def _optional_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _required_text(value: Any) -> str:
    text = _optional_text(value)
    if text is None:
        raise ValueError("required")
    return text


def _list_or_empty(value: Any) -> Any:
    return () if value is None else value


def _cipher_suite(value: Any) -> str:
    if not isinstance(value, str) or value not in GO_CIPHER_SUITES:
        raise ValueError("unknown cipher suite (use Go's names, e.g. "
                         "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)")
    return value


def _entries(what: str) -> Callable[[Any], Any]:
    """A mapping -> {str(key): (key, value)}: each entry is validated with its key, and
    an error's location is the key (pydantic would put a key's own error under
    `[key]`)."""
    def split(value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping of {what}")
        return {str(key): (key, item) for key, item in value.items()}

    return split


def _user(entry: Any) -> tuple[str, bytes]:
    name, hashed = entry
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError("a user name is a non-empty string without ':'")
    # Never echo the value: it is a secret (or a password pasted by mistake).
    if not isinstance(hashed, str) or not _BCRYPT_HASH.fullmatch(hashed):
        raise ValueError(f"not a bcrypt hash ({HTPASSWD_HINT})")
    return name, hashed.encode("ascii")


def _header(entry: Any) -> tuple[str, str] | None:
    name, value = entry
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise ValueError("not a valid header name")
    if name.lower() in RESERVED_HEADERS:
        raise ValueError("set by the exporter itself")
    if value is None or value == "":
        return None  # blank: unset, as in exporter-toolkit
    if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
        raise ValueError("expected a one-line string")
    allowed = HEADER_CHOICES.get(name.lower())
    if allowed and value.lower() not in allowed:
        raise ValueError(f"expected one of {', '.join(allowed)}")
    return name, value


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError("expected a path starting with /")
    return value


def _paths(value: Any) -> Any:
    if value is None:
        return DEFAULT_UNAUTHENTICATED_PATHS
    if not isinstance(value, list):
        raise ValueError("expected a list of paths such as /healthz")
    return value


def _empty_section(value: Any) -> Any:
    return None if value == {} else value


StrictBool = Annotated[bool, Strict()]
Strings = Annotated[tuple[Annotated[str, Strict()], ...], BeforeValidator(_list_or_empty)]


# ----------------------------------------------------------------------- models

class TLSServerConfig(StrictModel):
    cert: None = None
    key: None = None
    client_ca: None = None
    client_allowed_sans: None = None
    cert_file: Annotated[str, BeforeValidator(_required_text)]
    key_file: Annotated[str, BeforeValidator(_required_text)]
    client_auth_type: Annotated[str, BeforeValidator(
        _choice(CLIENT_AUTH_TYPES, "NoClientCert"))] = "NoClientCert"
    client_ca_file: Annotated[str | None, BeforeValidator(_optional_text)] = Field(
        default=None, validate_default=True)
    min_version: Annotated[str, BeforeValidator(_choice(TLS_VERSIONS, "TLS12"))] = "TLS12"
    max_version: Annotated[str, BeforeValidator(_choice(TLS_VERSIONS, "TLS13"))] = Field(
        default="TLS13", validate_default=True)
    cipher_suites: Annotated[tuple[Annotated[str, BeforeValidator(_cipher_suite)], ...],
                             BeforeValidator(_list_or_empty)] = ()
    prefer_server_cipher_suites: StrictBool = True
    #: Checked for shape only: OpenSSL's default groups are kept.
    curve_preferences: Strings = ()

    @field_validator("cert", "key", "client_ca", "client_allowed_sans", mode="before")
    @classmethod
    def _refuse(cls, value: Any, info: ValidationInfo) -> None:
        raise ValueError(UNSUPPORTED[str(info.field_name)])

    @field_validator("client_ca_file")
    @classmethod
    def _ca_matches_auth_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        auth_type = info.data.get("client_auth_type")
        if auth_type is None:  # itself invalid: that error is the one reported
            return value
        if value and auth_type == "NoClientCert":
            raise ValueError("set, but client_auth_type is NoClientCert "
                             "(use RequireAndVerifyClientCert)")
        if CLIENT_AUTH_TYPES[auth_type][1] and not value:
            raise ValueError(f"required for client_auth_type {auth_type}")
        return value

    @field_validator("max_version")
    @classmethod
    def _not_below_min(cls, value: str, info: ValidationInfo) -> str:
        minimum = info.data.get("min_version")
        if minimum is not None and TLS_VERSIONS[minimum] > TLS_VERSIONS[value]:
            raise ValueError(f"{value} is below min_version {minimum}")
        return value

    def settings(self, base_dir: str) -> TLSSettings:
        """Paths made absolute, relative to the directory of the file."""
        def resolve(name: str) -> str:
            return os.path.join(base_dir, name)

        return TLSSettings(
            cert_file=resolve(self.cert_file), key_file=resolve(self.key_file),
            client_auth_type=self.client_auth_type,
            client_ca_file=resolve(self.client_ca_file) if self.client_ca_file else None,
            min_version=self.min_version, max_version=self.max_version,
            cipher_suites=self.cipher_suites,
            prefer_server_cipher_suites=self.prefer_server_cipher_suites)


class HTTPServerConfig(StrictModel):
    #: Accepted for compatibility; the exporter serves HTTP/1.1.
    http2: StrictBool = True
    headers: Annotated[
        dict[str, Annotated[tuple[str, str] | None, BeforeValidator(_header)]],
        BeforeValidator(_entries("header names to values"))] = Field(default_factory=dict)


class WebConfigModel(StrictModel):
    """The file as written."""

    rate_limit: None = None
    tls_server_config: Annotated[TLSServerConfig | None,
                                 BeforeValidator(_empty_section)] = None
    http_server_config: Annotated[HTTPServerConfig,
                                  BeforeValidator(lambda v: {} if v is None else v)] = Field(
        default_factory=HTTPServerConfig)
    basic_auth_users: Annotated[
        dict[str, Annotated[tuple[str, bytes], BeforeValidator(_user)]],
        BeforeValidator(_entries("user names to bcrypt hashes"))] = Field(default_factory=dict)
    unauthenticated_paths: Annotated[tuple[Annotated[str, BeforeValidator(_path)], ...],
                                     BeforeValidator(_paths)] = DEFAULT_UNAUTHENTICATED_PATHS

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _refuse(cls, value: Any, info: ValidationInfo) -> None:
        raise ValueError(UNSUPPORTED[str(info.field_name)])


# ------------------------------------------------------------------ the value

@dataclass(frozen=True)
class WebConfig:
    """Validated settings, with the TLS context ready to use."""

    tls: TLSSettings | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: user -> bcrypt hash; kept out of repr() so a stray log line cannot show it.
    users: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    unauthenticated_paths: frozenset[str] = frozenset(DEFAULT_UNAUTHENTICATED_PATHS)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        tls = f"TLS ({self.tls.client_auth_type})" if self.tls else "no TLS"
        return f"{tls}, {len(self.users)} basic auth user(s)"


def load_web_config(path: str) -> WebConfig:
    """Read and validate a web config file; relative paths in it are relative to it."""
    try:
        text = read_text(path, KEY)
    except ConfigError as error:
        raise WebConfigError.from_config_error(error) from None
    return parse_web_config(text, os.path.dirname(os.path.abspath(path)))


def parse_web_config(text: str, base_dir: str) -> WebConfig:
    """Validate a document and build its TLS context (certificates are read here)."""
    try:
        raw = load_yaml(text, KEY)
    except ConfigError as error:
        raise WebConfigError.from_config_error(error) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise WebConfigError(".: expected a mapping of settings")
    try:
        model = WebConfigModel.model_validate(raw)
    except ValidationError as exc:
        raise WebConfigError(str(from_validation_error(exc, raw))) from None
    return build_web_config(model, base_dir)


def build_web_config(model: WebConfigModel, base_dir: str) -> WebConfig:
    tls = model.tls_server_config.settings(base_dir) if model.tls_server_config else None
    context = None
    if tls is not None:
        try:
            context = build_ssl_context(tls)
        except TLSError as error:
            raise WebConfigError(f"tls_server_config.{error}") from None
    headers = dict(entry for entry in model.http_server_config.headers.values() if entry)
    return WebConfig(tls=tls, headers=headers, users=dict(model.basic_auth_users.values()),
                     unauthenticated_paths=frozenset(model.unauthenticated_paths),
                     ssl_context=context)
