"""Forwarding push events to the shard that owns their account.

One Event Grid subscription URL serves every shard: the shard that receives a
delivery applies the events of its own accounts and posts the others, as they
came, to their owners (`--shard.peer-url-template`). A forwarded delivery is marked,
so it is never forwarded again. When an owner cannot be reached in time, the
delivery is answered with a retryable status and Event Grid delivers it again;
applying events twice changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence

import requests

from exporter.backends.registry import backend_for
from exporter.backends.settings import AccountSettings
from exporter.backends.transport import ApiError, read_body
from exporter.common.sharding import Sharding
from exporter.events.auth import SECRET_HEADER
from exporter.events.config import EventsConfig
from exporter.jobs.events import JobEvent

log = logging.getLogger(__name__)

FORWARDED_HEADER = "X-Ams-Forwarded"
FORWARD_TIMEOUT_SECONDS = 5.0


class Forwarder:
    def __init__(self, config: EventsConfig, sharding: Sharding,
                 accounts: Sequence[AccountSettings], session: requests.Session) -> None:
        self.config = config
        self.sharding = sharding
        self.session = session
        #: route -> owning shard, for the accounts other shards own
        self.routes: dict[str, int] = {}
        for account in accounts:
            owner = sharding.owner(account.name)
            if owner != sharding.ordinal:
                for route in backend_for(account).event_routes(account):
                    self.routes[route] = owner

    def owner(self, event: JobEvent) -> int | None:
        return next((self.routes[r] for r in event.routes if r in self.routes), None)

    def forward(self, events: Sequence[JobEvent], headers: Mapping[str, str]) -> bool:
        """Post each owner its events; True when every owner took them."""
        by_owner: dict[int, list[JobEvent]] = {}
        for event in events:
            owner = self.owner(event)
            if owner is not None:
                by_owner.setdefault(owner, []).append(event)
        return all([self._post(owner, batch, headers) for owner, batch in by_owner.items()])

    def _post(self, owner: int, events: Sequence[JobEvent], headers: Mapping[str, str]) -> bool:
        base = self.sharding.peer_url(owner)
        if base is None:
            log.warning("events: %d event(s) belong to shard %d, but no "
                        "--shard.peer-url-template is set", len(events), owner)
            return False
        sent = {"Content-Type": "application/json", FORWARDED_HEADER: "1"}
        if self.config.secrets:
            sent[SECRET_HEADER] = self.config.secrets[0]
        elif headers.get("Authorization"):
            sent["Authorization"] = headers["Authorization"]  # the same Entra token
        started = time.perf_counter()
        try:
            response = self.session.post(
                base.rstrip("/") + self.config.path, headers=sent, stream=True,
                data=json.dumps([dict(event.raw) for event in events]).encode(),
                timeout=FORWARD_TIMEOUT_SECONDS, allow_redirects=False)
            try:
                read_body(response, 64 * 1024, started + FORWARD_TIMEOUT_SECONDS)
            finally:
                response.close()
        except (requests.RequestException, ApiError) as exc:
            log.warning("events: shard %d is unreachable (%s); the delivery will be "
                        "retried", owner, type(exc).__name__)
            return False
        if not 200 <= response.status_code < 300:
            log.warning("events: shard %d answered HTTP %d to forwarded events", owner,
                        response.status_code)
            return False
        return True
