"""One scrape's body: the per-job families from the accounts' cached members and
the summary families through prometheus_client's encoder (text or OpenMetrics),
taken from one consistent set of snapshots."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from prometheus_client import ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

from exporter.metrics.aggregates import AccountView, ReloadStatus, SummaryCollector
from exporter.metrics.per_job import gzip_member, per_job_members
from exporter.metrics.render_cache import RenderCache
from exporter.refresh.snapshot import Snapshot

#: The encoding `body` gives for a client that does not take gzip: the parts are
#: still gzip members (one per part), for the server to decode as it writes them;
#: the client gets them as they are meant, with no Content-Encoding.
IDENTITY = "identity"


class Collector(Protocol):
    """Anything with prometheus_client's `collect()`, e.g. the web config's status."""

    def collect(self) -> Iterable[Metric]: ...


class _Families:
    """Adapts already-built families to the `collect()` that encoders call."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> list[Metric]:
        return self._families




def exposed_name(family: Metric) -> str:
    """The name as the text format shows it (counters gain `_total`)."""
    return f"{family.name}_total" if family.type == "counter" else family.name


class Exposition:
    """Builds scrape bodies for a set of accounts. The parts are gzip members,
    written one after the other and never joined, so a scrape of a large account
    copies nothing; for a client without gzip they are decoded a slice at a time as
    they are written (exporter.web.body), never as a whole."""

    def __init__(self, accounts: Sequence[AccountView], clock: Callable[[], float],
                 reload_status: ReloadStatus | None = None,
                 process: ProcessCollector | None = None,
                 excluded: frozenset[str] = frozenset(),
                 collectors: Sequence[Collector] = ()) -> None:
        self.accounts = accounts
        self.clock = clock
        self.excluded = excluded
        self.summary = SummaryCollector(accounts, clock, reload_status)
        self.process = process
        self.collectors = collectors
        self._renders = RenderCache(self._render_per_job)

    def _render_per_job(self, snapshots: Sequence[Snapshot], now: float) -> list[bytes]:
        """The members, not joined: the cached blocks are shared, not copied."""
        return list(per_job_members([s.rendered for s in snapshots], now, self.excluded))

    def body(self, accept: str = "", gzip_ok: bool = False) -> tuple[list[bytes], str, str | None]:
        """(body parts, content type, content encoding) of a scrape. The parts are
        gzip members, one per part; the encoding is "gzip" when the client takes it
        (send them as they are), else IDENTITY (decode them while writing)."""
        now = self.clock()
        snapshots = [view.refresher.snapshot for view in self.accounts]
        encoder, content_type = choose_encoder(accept)
        families = [family for family in self.summary.families(snapshots, now)
                    if exposed_name(family) not in self.excluded]
        if self.process is not None:
            families.extend(self.process.collect())
        for collector in self.collectors:
            families.extend(f for f in collector.collect() if exposed_name(f) not in self.excluded)
        summary = encoder(_Families(families))
        generations = tuple(s.generation for s in snapshots)
        parts = [*self._renders.get(snapshots, generations, now),
                 gzip_member([summary.decode("utf-8")])]
        return parts, content_type, "gzip" if gzip_ok else IDENTITY
