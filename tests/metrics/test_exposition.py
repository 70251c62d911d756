"""The families besides the per-job ones go through prometheus_client's registry:
any object with `collect()` is a collector (hashable or not), and metrics.exclude
removes exactly the named families from every collector, counters by their
exposed `_total` name."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.metrics.exposition import IDENTITY, Exposition
from tests.helpers import T0, parse_exposition


@dataclass
class Stats:
    """Like EventStats: a (non-frozen, so unhashable) dataclass with collect()."""

    received: int = 3
    calls: list[int] = field(default_factory=list)

    def collect(self) -> list[Metric]:
        self.calls.append(1)
        counter = CounterMetricFamily("ams_events_received", "Events.", labels=["kind"])
        counter.add_metric(["a"], self.received)
        gauge = GaugeMetricFamily("ams_web_config_last_reload_successful", "Reloaded.")
        gauge.add_metric([], 1)
        return [counter, gauge]


def body_text(exposition: Exposition, accept: str = "") -> tuple[str, str]:
    parts, content_type, encoding = exposition.body(accept)
    assert encoding == IDENTITY
    return gzip.decompress(b"".join(parts)).decode(), content_type


def test_an_unhashable_collector_is_collected_on_every_scrape():
    stats = Stats()
    exposition = Exposition([], lambda: T0, collectors=[stats])
    first = parse_exposition(body_text(exposition)[0])
    stats.received = 5
    second = parse_exposition(body_text(exposition)[0])
    assert first.value("ams_events_received_total", kind="a") == 3
    assert second.value("ams_events_received_total", kind="a") == 5
    assert second.value("ams_web_config_last_reload_successful") == 1
    assert len(stats.calls) == 2


def test_exclude_names_counters_by_their_exposed_name_in_any_collector():
    exposition = Exposition([], lambda: T0, collectors=[Stats()],
                            excluded=frozenset({"ams_events_received_total",
                                                "ams_exporter_build_info",
                                                "ams_job_age_seconds"}))
    text, _ = body_text(exposition)
    families = parse_exposition(text).families
    assert "ams_events_received" not in families
    assert "ams_exporter_build_info" not in families  # from the aggregates
    assert "ams_job_age_seconds" not in text  # per-job
    assert {"ams_web_config_last_reload_successful", "ams_jobs", "ams_job_state"} <= set(families)


def test_openmetrics_is_chosen_by_accept():
    text, content_type = body_text(Exposition([], lambda: T0, collectors=[Stats()]),
                                   "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert "# TYPE ams_events_received counter" in text
    assert text.endswith("# EOF\n")
