"""One scrape's body: the per-job families (a render of the accounts' chunks,
exporter.metrics.render_cache), then the aggregates and every other collector's
families through prometheus_client's encoder (text or OpenMetrics).

The aggregates and the per-job series come from the same snapshots: those of the
render the scrape is served (exporter.metrics.render_cache)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence

from prometheus_client import ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.registry import Collector, CollectorRegistry

from exporter.metrics.aggregates import AccountView, Aggregates, ReloadStatus
from exporter.metrics.excluding import Excluding
from exporter.metrics.fill import PerJobMembers, render_members
from exporter.metrics.per_job import RenderedAccount
from exporter.metrics.render_cache import RenderCache
from exporter.metrics.text import gzip_member
from exporter.refresh.snapshot import Snapshot

#: The encoding `body` gives for a client that does not take gzip: the parts are
#: still gzip members (one per part), for the server to decode as it writes them;
#: the client gets them as they are meant, with no Content-Encoding.
IDENTITY = "identity"
#: OpenMetrics' media type, and the line its expositions end with.
OPENMETRICS = OPENMETRICS_TYPE.split(";")[0]
EOF = b"# EOF\n"
Encoder = Callable[[CollectorRegistry], bytes]


class Exposition:
    """Builds scrape bodies for a set of accounts. The parts are gzip members,
    written one after the other and never joined, so a scrape of a large account
    copies nothing; for a client without gzip they are decoded a slice at a time as
    they are written (exporter.web.body), never as a whole."""

    def __init__(self, accounts: Sequence[AccountView], clock: Callable[[], float],
                 reload_status: ReloadStatus | None = None,
                 process: ProcessCollector | None = None,
                 excluded: frozenset[str] = frozenset(),
                 collectors: Sequence[Collector] = (),
                 correlation_labels: tuple[str, ...] = ()) -> None:
        self.accounts = accounts
        self.clock = clock
        self.excluded = excluded
        #: The correlation labels the aggregates carry (metrics.correlation_labels).
        self.correlation_labels = correlation_labels
        self.reload_status = reload_status
        #: What every scrape collects after the aggregates: the process's families,
        #: then the other collectors' (web config, HTTP rejections, push events,
        #: shards). Registered without describe(): nothing is collected to register.
        self.registry = CollectorRegistry(auto_describe=False)
        for collector in (*([process] if process is not None else []), *collectors):
            self.registry.register(Excluding(collector, excluded))
        self._renders = RenderCache(self._render_per_job)
        #: Per segment of the aggregates: (its key and content type, its encoding).
        self._segments: dict[int, tuple[Hashable, bytes]] = {}

    def _render_per_job(self, snapshots: Sequence[Snapshot], now: float,
                        reuse_since: float | None) -> PerJobMembers:
        return render_members([_rendered_account(s) for s in snapshots], now, self.excluded,
                              reuse_since)

    def body(self, accept: str = "", gzip_ok: bool = False, serve_stale: bool = False
             ) -> tuple[list[bytes], str, str | None]:
        """(body parts, content type, content encoding) of a scrape. The parts are
        gzip members, one per part; the encoding is "gzip" when the client takes it
        (send them as they are), else IDENTITY (decode them while writing). With
        `serve_stale` (a scrape over HTTP), the last render may be served while a
        newer one is in progress (exporter.metrics.render_cache)."""
        now = self.clock()
        current = [view.refresher.snapshot for view in self.accounts]
        per_job, snapshots = self._renders.get(current, now, serve_stale)
        encoder, content_type = choose_encoder(accept)
        aggregates = Aggregates(self.accounts, snapshots, now, self.reload_status,
                                self.correlation_labels)
        pieces = [self._encoded(index, key, families, encoder, content_type)
                  for index, (key, families) in enumerate(aggregates.segments())]
        pieces.append(_without_eof(encoder(self.registry)))
        if content_type.startswith(OPENMETRICS):
            pieces.append(EOF)
        summary = b"".join(pieces)
        parts = [*per_job, gzip_member([summary.decode("utf-8")])]
        return parts, content_type, "gzip" if gzip_ok else IDENTITY

    def _encoded(self, index: int, key: Hashable | None,
                 families: Callable[[], Iterator[Metric]], encoder: Encoder,
                 content_type: str) -> bytes:
        """A segment of the aggregates, encoded; kept while its key is the same."""
        kept = self._segments.get(index)
        if key is not None and kept is not None and kept[0] == (key, content_type):
            return kept[1]
        registry = CollectorRegistry(auto_describe=False)
        registry.register(Excluding(_Families(families), self.excluded))
        encoded = _without_eof(encoder(registry))
        if key is not None:
            self._segments[index] = ((key, content_type), encoded)
        return encoded

    def prerender(self) -> None:
        """After a refresh, in its thread: render its snapshot if scrapes are frequent
        (see RenderCache.prerender)."""
        self._renders.prerender([view.refresher.snapshot for view in self.accounts],
                                self.clock())


class _Families(Collector):
    def __init__(self, families: Callable[[], Iterator[Metric]]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return self.families()


def _without_eof(encoded: bytes) -> bytes:
    """An encoding without OpenMetrics' closing line: the pieces of a scrape are
    encoded apart, and only the whole ends with it."""
    return encoded[:-len(EOF)] if encoded.endswith(EOF) else encoded


def _rendered_account(snapshot: Snapshot) -> RenderedAccount:
    rendered = snapshot.rendered
    if not isinstance(rendered, RenderedAccount):
        raise TypeError(f"a snapshot without per-job series ({type(rendered).__name__}): "
                        "its account's refresher was not given an AccountRenderer")
    return rendered
