"""`metrics.exclude` applied to a prometheus_client collector's families."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector


def exposed_name(family: Metric) -> str:
    """The name as the text format shows it (counters gain `_total`)."""
    return f"{family.name}_total" if family.type == "counter" else family.name


class Excluding(Collector):
    """The families of `collector` but the excluded ones. Also what makes any
    collector registrable: a registry keys its collectors by hash, and this one
    hashes by identity whatever it wraps."""

    def __init__(self, collector: Collector, excluded: frozenset[str]) -> None:
        self.collector = collector
        self.excluded = excluded

    def collect(self) -> Iterator[Metric]:
        excluded = self.excluded
        return (family for family in self.collector.collect()
                if exposed_name(family) not in excluded)
