"""kube-state-metrics' assignment: FNV-1a 64 then jump consistent hash."""

from __future__ import annotations

import pytest

from exporter.common.sharding import (
    Sharding,
    fnv1a_64,
    jump_consistent_hash,
    ordinal_from_hostname,
    shard_of,
)


def test_fnv1a_64_test_vectors():
    assert fnv1a_64(b"") == 0xCBF29CE484222325
    assert fnv1a_64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a_64(b"foobar") == 0x85944171F73967E8


@pytest.mark.parametrize("key, buckets, bucket", [
    (1, 1, 0), (42, 57, 43), (0xDEAD10CC, 1, 0), (0xDEAD10CC, 666, 361), (256, 1024, 520)])
def test_jump_hash_test_vectors(key, buckets, bucket):
    assert jump_consistent_hash(key, buckets) == bucket


def test_growing_from_three_to_four_shards_moves_about_a_quarter_and_only_to_the_new_one():
    names = [f"account-{n}" for n in range(2000)]
    moved = [name for name in names if shard_of(name, 3) != shard_of(name, 4)]
    assert all(shard_of(name, 4) == 3 for name in moved)
    assert 0.2 < len(moved) / len(names) < 0.3


def test_every_account_has_exactly_one_owner():
    names = [f"acct{n}" for n in range(9)]
    shards = [Sharding(ordinal, 3) for ordinal in range(3)]
    kept = [set(shard.keep(names)) for shard in shards]
    assert set().union(*kept) == set(names)
    assert sum(len(k) for k in kept) == len(names)


def test_the_ordinal_comes_from_a_statefulset_pod_name():
    assert ordinal_from_hostname("ams-job-exporter-2") == 2
    with pytest.raises(ValueError, match="StatefulSet pod name"):
        ordinal_from_hostname("laptop")


@pytest.mark.parametrize("ordinal, total, template", [(3, 3, None), (0, 0, None),
                                                       (0, 2, "http://peer")])
def test_invalid_settings(ordinal, total, template):
    with pytest.raises(ValueError):
        Sharding(ordinal, total, template)


def test_peer_urls_and_metrics():
    sharding = Sharding(1, 3, "http://ams-{shard}.headless:10046")
    assert sharding.peer_url(2) == "http://ams-2.headless:10046"
    families = {f.name: f.samples[0].value for f in sharding.collect()}
    assert families == {"ams_exporter_shard_ordinal": 1, "ams_exporter_total_shards": 3}
