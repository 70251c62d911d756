"""The configuration file's model (SPEC §4), assembled from the models each layer
owns: the accounts (each validated by its backend's model), refresh and retention
(exporter.refresh.settings), events (exporter.events.config) and metrics."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError

from exporter.backends.registry import AccountConfig
from exporter.backends.transport import DEFAULT_MAX_RESPONSE_BYTES
from exporter.config.errors import ConfigError, from_validation_error
from exporter.config.loading import default_environ, expand_env, load_yaml, read_text
from exporter.config.types import ByteSize, Duration, PositiveInt, StrictModel, Text
from exporter.events.config import EventsConfig
from exporter.jobs.correlation import CorrelationLabels
from exporter.metrics.names import EXCLUDABLE, OWN_LABELS
from exporter.refresh.settings import RefreshConfig, RefreshPolicy, RetentionConfig


def _known_metric(name: Any) -> Any:
    if isinstance(name, str) and name not in EXCLUDABLE:
        shown = name if len(name) <= 80 else name[:80] + "…"
        raise ValueError(f"unknown metric {shown!r} (see docs/metrics.md)")
    return name


_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:80] + "…")


def _correlation_labels(value: Any) -> Any:
    """{label name: correlationData key} -> ((name, key), ...) in the file's order."""
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of label names to correlationData keys")
    for name, key in value.items():
        if not isinstance(name, str) or _LABEL_NAME.fullmatch(name) is None:
            raise ValueError(f"{_shown(str(name))} is not a valid Prometheus label name")
        if name.startswith("__"):
            raise ValueError(f"{_shown(name)}: names starting with __ are Prometheus' own")
        if name in OWN_LABELS:
            raise ValueError(f"{_shown(name)} is one of the exporter's own labels "
                             "(see docs/metrics.md)")
        if not isinstance(key, str) or not key:
            raise ValueError(f"{_shown(name)}: expected a correlationData key (a non-empty "
                             "string)")
    return tuple(value.items())


class MetricsConfig(StrictModel):
    #: Metric families not to export; an excluded per-job family is not rendered.
    exclude: tuple[Annotated[Text, AfterValidator(_known_metric)], ...] = ()
    #: (label name, correlationData key) pairs, in the file's order.
    correlation_labels: Annotated[tuple[tuple[str, str], ...],
                                  BeforeValidator(_correlation_labels)] = ()
    #: Distinct values per label per account; later ones read `__other__`.
    correlation_label_limit: PositiveInt = 100

    def correlation(self) -> CorrelationLabels:
        """The correlation labels as the layers below take them."""
        return CorrelationLabels(tuple(name for name, _ in self.correlation_labels),
                                 tuple(key for _, key in self.correlation_labels),
                                 self.correlation_label_limit)


class Config(StrictModel):
    accounts: tuple[AccountConfig, ...] = Field(min_length=1)
    refresh: RefreshConfig = Field(default_factory=RefreshConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    lookback: Duration = 48 * 3600.0
    max_jobs_per_account: PositiveInt = 20000
    #: The cap on one API response body, before and after decompression.
    max_response_bytes: ByteSize = DEFAULT_MAX_RESPONSE_BYTES
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)

    def refresh_policy(self) -> RefreshPolicy:
        """The settings the refresh layer reads (it never sees the whole file)."""
        return RefreshPolicy(self.refresh, self.retention, self.lookback,
                             self.max_jobs_per_account)


def build_config(raw: Any) -> Config:
    """Validate already-expanded data; ConfigError names the first bad key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(".: expected a mapping of settings")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(exc, raw) from None
    names = [account.name for account in config.accounts]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ConfigError(f"accounts[{index}].name: duplicate account name")
    return config


def parse_config(text: str, environ: Mapping[str, str] | None = None) -> Config:
    """Parse, expand `${ENV}` references, and validate a configuration document."""
    return build_config(expand_env(load_yaml(text), default_environ(environ)))


def load_config(path: str, environ: Mapping[str, str] | None = None) -> Config:
    """Read, expand and validate a config file."""
    return parse_config(read_text(path), environ)
