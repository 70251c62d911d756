"""The configuration file's model (SPEC §4): refresh, retention, lookback, the job
cap and the accounts, each validated by its backend's model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, field_validator

from exporter.backends.registry import AccountConfig
from exporter.backends.transport import DEFAULT_MAX_RESPONSE_BYTES
from exporter.config.errors import ConfigError, from_validation_error
from exporter.config.loading import default_environ, expand_env, load_yaml, read_text
from exporter.config.types import ByteSize, Duration, PositiveInt, StrictModel, Text
from exporter.events.config import EventsConfig
from exporter.metrics.names import EXCLUDABLE


class RefreshConfig(StrictModel):
    #: A scrape within this of the last refresh is served from the snapshot.
    min_interval: Duration = 30.0
    #: A full listing this often; in between, only changed jobs are fetched.
    full_resync: Duration = 900.0
    #: Per request, and the longest a scrape waits for a refresh.
    timeout: Duration = 20.0

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0s")
        return value


class RetentionConfig(StrictModel):
    finished: Duration = 6 * 3600.0
    failed: Duration = 24 * 3600.0


def _known_metric(name: Any) -> Any:
    if isinstance(name, str) and name not in EXCLUDABLE:
        shown = name if len(name) <= 80 else name[:80] + "…"
        raise ValueError(f"unknown metric {shown!r} (see docs/metrics.md)")
    return name


class MetricsConfig(StrictModel):
    #: Metric families not to export; an excluded per-job family is not rendered.
    exclude: tuple[Annotated[Text, AfterValidator(_known_metric)], ...] = ()


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
