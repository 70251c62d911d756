"""Mapping an ARM request path to the Media Services resource it names.

ARM matches the fixed segments (subscriptions, resourceGroups, providers,
Microsoft.Media, mediaServices, transforms, jobs) case-insensitively, so we do too.
Names are percent-decoded; the service decides how to match them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

# Route kinds, also used in the request log and request_count(kind=...).
TRANSFORMS = "transforms"
TRANSFORM = "transform"
JOBS = "jobs"
JOB = "job"
UNKNOWN = "unknown"

_PROVIDER = ("resourcegroups", None, "providers", "microsoft.media", "mediaservices", None)
_KINDS = {9: TRANSFORMS, 10: TRANSFORM, 11: JOBS, 12: JOB}


@dataclass(frozen=True)
class ArmPath:
    kind: str
    subscription: str
    resource_group: str | None = None
    account: str | None = None  # the ARM account name as sent
    transform: str | None = None
    job: str | None = None


def parse_arm_path(path: str) -> ArmPath | None:
    """None unless `path` starts with /subscriptions/ (any case)."""
    raw = path.split("/")[1:]
    if len(raw) < 2 or raw[0].lower() != "subscriptions":
        return None
    try:
        parts = [unquote(s, errors="strict") for s in raw]
    except UnicodeDecodeError:
        return ArmPath(UNKNOWN, raw[1])
    subscription = parts[1]
    names = parts[2:8]
    fixed_ok = len(names) == len(_PROVIDER) and all(
        want is None or got.lower() == want for got, want in zip(names, _PROVIDER, strict=True)
    )
    if not fixed_ok or any(not p for p in parts[1:]):
        group = parts[3] if len(parts) > 3 and parts[2].lower() == "resourcegroups" else None
        return ArmPath(UNKNOWN, subscription, group)
    group, account = parts[3], parts[7]
    kind = _KINDS.get(len(parts), UNKNOWN)
    if len(parts) >= 9 and parts[8].lower() != "transforms":
        kind = UNKNOWN
    if len(parts) >= 11 and parts[10].lower() != "jobs":
        kind = UNKNOWN
    transform = parts[9] if len(parts) >= 10 else None
    job = parts[11] if len(parts) >= 12 else None
    return ArmPath(kind, subscription, group, account, transform, job)
