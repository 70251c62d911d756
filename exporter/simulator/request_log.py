"""The log and counters of requests the simulator has served."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SimRequest:
    method: str
    path: str  # raw, query string included
    account: str | None
    # v2: jobs, job, tasks, metadata, legacy; v3: transforms, transform, jobs, job;
    # aad: discovery, token; unknown for anything else.
    kind: str
    status: int  # 0 when the connection was dropped without an answer
    headers: dict[str, str] = field(default_factory=dict)
    decoded_query: dict[str, str] = field(default_factory=dict)
    time: float = 0.0  # simulator clock when served
    api: str = "v2"  # v2, v3 or aad


class RequestLog:
    """Exact counts for ever; the detailed log keeps the newest `limit` entries."""

    def __init__(self, limit: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[SimRequest] = deque(maxlen=limit)
        self._counts: Counter[tuple[str | None, str, str]] = Counter()

    def record(self, entry: SimRequest) -> None:
        with self._lock:
            self._entries.append(entry)
            self._counts[(entry.account, entry.kind, entry.api)] += 1

    def count(
        self, account: str | None = None, kind: str | None = None, api: str | None = None
    ) -> int:
        with self._lock:
            return sum(
                n
                for (a, k, p), n in self._counts.items()
                if (account is None or a == account)
                and (kind is None or k == kind)
                and (api is None or p == api)
            )

    def entries(self) -> list[SimRequest]:
        with self._lock:
            return list(self._entries)

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()
