"""Horizontal sharding, as kube-state-metrics does it: every replica reads the same
configuration and keeps the accounts whose shard is
`jump_consistent_hash(fnv1a_64(account name), total)`. A shard never calls the API
for an account it does not own. Going from M to M+1 shards moves about 1/(M+1) of
the accounts, and only to the new shard.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1
_ORDINAL = re.compile(r"-(\d+)$")


def fnv1a_64(data: bytes) -> int:
    """FNV-1a, 64 bits (what Go's hash/fnv New64a computes)."""
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & _MASK64
    return value


def jump_consistent_hash(key: int, buckets: int) -> int:
    """Lamping and Veach's jump consistent hash: a bucket in [0, buckets)."""
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    bucket, jump = -1, 0
    while jump < buckets:
        bucket = jump
        key = (key * 2862933555777941757 + 1) & _MASK64
        jump = int((bucket + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return bucket


def shard_of(account: str, total: int) -> int:
    return jump_consistent_hash(fnv1a_64(account.encode("utf-8")), total)


def ordinal_from_hostname(hostname: str) -> int:
    """`ams-job-exporter-2` -> 2 (a StatefulSet pod's name ends in its ordinal)."""
    match = _ORDINAL.search(hostname)
    if match is None:
        raise ValueError(f"cannot take a shard number from the host name {hostname!r} "
                         "(expected a StatefulSet pod name such as ams-job-exporter-0)")
    return int(match.group(1))


@dataclass(frozen=True)
class Sharding:
    ordinal: int = 0
    total: int = 1
    #: Where the other shards listen, with `{shard}` for the ordinal, e.g.
    #: http://ams-job-exporter-{shard}.ams-job-exporter-headless:10046
    peer_url_template: str | None = None

    def __post_init__(self) -> None:
        if self.total < 1:
            raise ValueError("--total-shards must be at least 1")
        if not 0 <= self.ordinal < self.total:
            raise ValueError(f"--shard must be in 0..{self.total - 1}")
        if self.peer_url_template is not None and "{shard}" not in self.peer_url_template:
            raise ValueError("--shard.peer-url-template must contain {shard}")

    @property
    def enabled(self) -> bool:
        return self.total > 1

    def owner(self, account: str) -> int:
        return shard_of(account, self.total)

    def owns(self, account: str) -> bool:
        return self.owner(account) == self.ordinal

    def peer_url(self, shard: int) -> str | None:
        if self.peer_url_template is None:
            return None
        return self.peer_url_template.replace("{shard}", str(shard))

    def keep(self, names: Sequence[str]) -> list[str]:
        return [name for name in names if self.owns(name)]

    def collect(self) -> Iterator[Metric]:
        ordinal = GaugeMetricFamily("ams_exporter_shard_ordinal",
                                    "This process's shard number (0 when not sharded).")
        ordinal.add_metric([], self.ordinal)
        total = GaugeMetricFamily("ams_exporter_total_shards",
                                  "How many shards the accounts are spread over.")
        total.add_metric([], self.total)
        yield ordinal
        yield total
