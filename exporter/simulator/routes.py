"""Mapping a request path to what it asks for (v2 account resources, or the legacy endpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from exporter.simulator.odata_filter import ParseError, read_string_literal

# Route kinds, also used in the request log and request_count(kind=...).
JOBS = "jobs"
JOB = "job"
TASKS = "tasks"
METADATA = "metadata"
LEGACY = "legacy"
UNKNOWN = "unknown"

LEGACY_PREFIX = "/api/"


@dataclass(frozen=True)
class Route:
    kind: str
    account: str | None = None
    job_id: str | None = None
    rest: str = ""  # legacy: the raw path after /api/, carried into the redirect


def parse_route(path: str) -> Route:
    """`path` is the raw request path without the query string."""
    if path == "/api" or path.startswith(LEGACY_PREFIX):
        return Route(LEGACY, rest=path[len(LEGACY_PREFIX):])
    if not path.startswith("/v2/"):
        return Route(UNKNOWN)
    account, _, resource = path[len("/v2/"):].partition("/")
    account = unquote(account)
    if not resource.startswith("api/"):
        return Route(UNKNOWN, account)
    try:
        resource = unquote(resource[len("api/"):], errors="strict")
    except UnicodeDecodeError:
        return Route(UNKNOWN, account)
    if resource == "$metadata":
        return Route(METADATA, account)
    if resource in ("Jobs", "Jobs()"):
        return Route(JOBS, account)
    return _job_route(account, resource)


def _job_route(account: str, resource: str) -> Route:
    """`Jobs('<id>')` or `Jobs('<id>')/Tasks`, the id percent-decoded and quotes undoubled."""
    opening = "Jobs("
    if not resource.startswith(opening + "'"):
        return Route(UNKNOWN, account)
    try:
        job_id, end = read_string_literal(resource, len(opening))
    except ParseError:
        return Route(UNKNOWN, account)
    tail = resource[end:]
    if tail == ")":
        return Route(JOB, account, job_id)
    if tail == ")/Tasks":
        return Route(TASKS, account, job_id)
    return Route(UNKNOWN, account)
