"""Reading requests with deadlines: a client that drips its headers a byte at a time
is cut off when the deadline passes, not merely when one read waits too long.

`DeadlineReader` is the raw stream under the handler's buffered `rfile`: each
`recv` gets what is left of the deadline as its timeout, and end of stream is
remembered, so a request whose headers ended with the connection instead of a blank
line can be told from a complete one. `drain` reads what a client still sends after
an answer that closes the connection.
"""

from __future__ import annotations

import io
import socket
import ssl
import time
from collections.abc import Callable


class DeadlineReader(io.RawIOBase):
    """A socket's reads against a deadline (time.monotonic seconds)."""

    def __init__(self, sock: socket.socket,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._sock = sock
        self._clock = clock
        #: Reads after this raise TimeoutError; None: no deadline.
        self.deadline: float | None = None
        #: While waiting for a request: once its first byte arrives, the deadline
        #: becomes that moment plus this.
        self._then: float | None = None
        #: The peer closed its side (a read returned no bytes).
        self.eof = False

    def limit(self, seconds: float) -> None:
        """Everything read from now on must arrive within `seconds`."""
        self.deadline = self._clock() + seconds
        self._then = None

    def wait_for_request(self, idle: float, reading: float) -> None:
        """Wait at most `idle` seconds for the next request's first byte; from that
        byte on, the request has `reading` seconds to arrive in full."""
        self.deadline = self._clock() + idle
        self._then = reading

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.deadline is not None:
            left = self.deadline - self._clock()
            if left <= 0:
                raise TimeoutError("the request did not arrive in time")
            self._sock.settimeout(left)
        count = self._sock.recv_into(buffer)
        if count == 0:
            self.eof = True
        elif self._then is not None:
            self.deadline, self._then = self._clock() + self._then, None
        return count

    def close(self) -> None:
        """Closes this reader only: the connection belongs to the server."""
        super().close()


def drain(sock: socket.socket, seconds: float, max_bytes: int,
          clock: Callable[[], float] = time.monotonic) -> int:
    """Read and drop what the peer still sends, for at most `seconds` and
    `max_bytes`, after the answer has gone out: closing a socket with unread data
    sends a reset, which can make the peer drop the answer it has not read yet. A
    plain connection is shut for writing first, so the peer sees the answer end.
    The bytes dropped; never raises."""
    dropped = 0
    deadline = clock() + seconds
    try:
        if not isinstance(sock, ssl.SSLSocket):  # TLS: its close_notify comes at close
            sock.shutdown(socket.SHUT_WR)
        while dropped < max_bytes:
            left = deadline - clock()
            if left <= 0:
                break
            sock.settimeout(left)
            data = sock.recv(min(65536, max_bytes - dropped))
            if not data:
                break
            dropped += len(data)
    except (OSError, ValueError):  # reset, timed out, TLS error, already closed
        pass
    return dropped
