"""What push events said about one job, on top of what the API last said.

A job changed by events keeps a Mark: the API's record of it (`base`, read at
`base_at`), and the claims of the events received since, by receipt time. When
the API answers for the job again (a refresh, a fetch by name), the claims
received EVENT_GRACE or more before that answer was asked for are dropped, and
the rest are applied to the new record (exporter.jobs.claims).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from exporter.jobs.claims import EVENT_GRACE, Claims, apply_claims
from exporter.jobs.model import Job

#: Claims kept per job: past this, the two received first are merged (a job gets a
#: handful of events a minute; a flood costs bounded memory, and merged claims
#: yield to the API sooner, never later).
MAX_CLAIMS_PER_JOB = 16


@dataclass(slots=True)
class Mark:
    #: The job as the API last answered for it, and when that request began.
    base: Job
    base_at: float
    #: The time the exported job's state is known at (an event's, or base_at).
    known_at: float
    #: Claims of the events received since, oldest receipt first.
    claims: list[Claims] = field(default_factory=list)

    def add(self, claims: Claims) -> None:
        """Keep an event's claims: merged with those of the same receipt (one
        delivery), and within MAX_CLAIMS_PER_JOB."""
        kept = self.claims
        last = kept[-1] if kept else None
        if last is None or claims.received > last.received:  # the usual case
            kept.append(claims)
            self._bound()
            return
        if claims.received == last.received:  # the same delivery
            kept[-1] = last.merge(claims)
            return
        index = bisect_left(kept, claims.received, key=_received)
        if index < len(kept) and kept[index].received == claims.received:
            kept[index] = kept[index].merge(claims)
            return
        kept.insert(index, claims)
        self._bound()

    def _bound(self) -> None:
        kept = self.claims
        if len(kept) > MAX_CLAIMS_PER_JOB:
            kept[0:2] = [kept[0].merge(kept[1])]

    def rebase(self, record: Job, read_at: float) -> Job:
        """The job after an API answer asked for at `read_at`: claims received
        EVENT_GRACE or more before it are dropped (the answer replaces them), the
        rest applied to the answer."""
        self.claims = [c for c in self.claims if c.received > read_at - EVENT_GRACE]
        self.base, self.base_at = record, read_at
        job, self.known_at = record, read_at
        for claims in self.claims:
            job, self.known_at = apply_claims(job, self.known_at, claims)
        return job


def _received(claims: Claims) -> float:
    return claims.received
