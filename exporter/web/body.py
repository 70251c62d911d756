"""Writing a scrape's body a bounded slice at a time.

The exposition is a list of gzip members (exporter.metrics.exposition), shared by
every scrape. A client that takes gzip gets them as they are, in slices; one that
does not gets them decoded member by member, `CHUNK` bytes at a time, so a client
costs a decoder and a chunk, never a copy of the whole body. The decoded length,
for Content-Length, comes from each member's trailer without decoding anything.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence

#: The most decoded bytes handed to one write (each write has its own timeout).
CHUNK = 64 * 1024
#: The most gzip bytes handed to one write. Large: a write releases the GIL and
#: takes it back, which under a busy thread (a refresh, a render) waits up to the
#: switch interval (5 ms); 64 KiB slices of a 38 MB body (100,000 jobs) cost seconds
#: that way, 1 MiB slices a tenth of it.
PASS_THROUGH = 1024 * 1024
#: Compressed bytes given to the decoder at once: what it may copy aside.
_FEED = 16 * 1024
_GZIP = 31  # wbits for a gzip header and trailer
_TRAILER = 8  # CRC32 and ISIZE
_SMALLEST_MEMBER = 10 + 2 + _TRAILER  # header, an empty deflate block, trailer


def plain_length(members: Sequence[bytes]) -> int:
    """The decoded size of `members`, each one complete gzip member: the sum of
    their ISIZE trailers (the size modulo 2**32; a member is far below 4 GiB)."""
    total = 0
    for member in members:
        if len(member) < _SMALLEST_MEMBER or member[:2] != b"\x1f\x8b":
            raise ValueError("not a gzip member")
        total += int.from_bytes(member[-4:], "little")
    return total


def slices(parts: Iterable[bytes], size: int = PASS_THROUGH) -> Iterator[memoryview]:
    """`parts` in slices of at most `size` bytes, without copying them."""
    for part in parts:
        view = memoryview(part)
        for start in range(0, len(view), size):
            yield view[start:start + size]


def gunzip_chunks(members: Iterable[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """The decoded bytes of concatenated gzip members, in chunks of at most `size`
    bytes. ValueError if the data is not gzip or ends inside a member."""
    decoder = zlib.decompressobj(_GZIP)
    fed = False  # whether the current member has begun
    for data in slices(members, _FEED):
        pending: bytes | memoryview = data
        more = True
        while more:
            fed = fed or bool(pending)
            try:
                chunk = decoder.decompress(pending, size)
            except zlib.error as exc:
                raise ValueError(f"not valid gzip data: {exc}") from None
            if chunk:
                yield chunk
            if decoder.eof:  # the member ended: what follows begins the next one
                pending, decoder, fed = decoder.unused_data, zlib.decompressobj(_GZIP), False
                more = bool(pending)
            else:
                # Input left over, or output cut at `size` that may still be held back.
                pending = decoder.unconsumed_tail
                more = bool(pending) or len(chunk) == size
    if fed:
        raise ValueError("the gzip data ends inside a member")
