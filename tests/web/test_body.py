"""Bodies written a slice at a time: gzip members decoded in bounded chunks, and
the decoded length read from the members' trailers."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from exporter.metrics.text import gzip_member
from exporter.web.body import CHUNK, gunzip_chunks, plain_length, slices


def members_of(texts: list[bytes], level: int = 1) -> list[bytes]:
    return [gzip.compress(text, compresslevel=level, mtime=0) for text in texts]


def sample_texts(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    texts = [b"", b"x", b"# HELP a b\n" * 20_000]  # empty, tiny, highly compressible
    texts.append(rng.randbytes(300_000))  # incompressible: more input than output
    texts.append(b"".join(b'ams_job_age_seconds{job_id="%d"} %d.0\n' % (i, rng.randrange(10**6))
                          for i in range(40_000)))
    return texts


@pytest.mark.parametrize("size", [1, 1000, CHUNK])
def test_gunzip_chunks_decodes_members_in_bounded_chunks(size):
    texts = sample_texts(1) if size > 1 else [b"", b"ab", b"line\n" * 2000]
    members = members_of(texts)
    chunks = list(gunzip_chunks(members, size))
    assert b"".join(chunks) == b"".join(texts)
    assert max(len(chunk) for chunk in chunks) <= size


def test_plain_length_is_the_sum_of_the_trailers():
    texts = sample_texts(2)
    members = members_of(texts) + [gzip_member(["per_job " * 5000, "é\n"])]
    assert plain_length(members) == sum(map(len, texts)) + len(("per_job " * 5000 + "é\n")
                                                                 .encode())
    assert plain_length(members) == len(b"".join(gunzip_chunks(members)))
    assert plain_length([]) == 0


def test_a_part_may_hold_several_members_or_a_member_span_parts():
    texts = sample_texts(3)
    stream = b"".join(members_of(texts))
    cuts = sorted(random.Random(4).sample(range(1, len(stream)), 40))
    parts = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert b"".join(gunzip_chunks(parts)) == b"".join(texts)
    assert b"".join(gunzip_chunks([stream])) == b"".join(texts)


def test_truncated_or_foreign_data_is_an_error():
    member = members_of([b"metric 1\n" * 1000])[0]
    with pytest.raises(ValueError, match="ends inside a member"):
        list(gunzip_chunks([member[:-3]]))
    with pytest.raises(ValueError, match="not valid gzip"):
        list(gunzip_chunks([b"plain text, not gzip at all\n"]))
    with pytest.raises(ValueError, match="not a gzip member"):
        plain_length([b"plain text, not gzip at all\n"])
    raw_deflate = zlib.compress(b"x" * 100)
    with pytest.raises(ValueError):
        plain_length([raw_deflate])


def test_slices_do_not_copy():
    part = b"a" * (3 * CHUNK + 5)
    pieces = list(slices([part, b"", b"tail"], CHUNK))
    assert [len(p) for p in pieces] == [CHUNK, CHUNK, CHUNK, 5, 4]
    assert all(isinstance(p, memoryview) for p in pieces)
    assert pieces[0].obj is part
