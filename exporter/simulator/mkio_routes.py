"""Mapping an MK.IO Media API v1 path to what it names (ams-successors.md §1.1).

    /api/v1/projects/{p}/media/jobs                        project_jobs
    /api/v1/projects/{p}/media/transforms                  transforms
    /api/v1/projects/{p}/media/transforms/{t}              transform
    /api/v1/projects/{p}/media/transforms/{t}/jobs         jobs
    /api/v1/projects/{p}/media/transforms/{t}/jobs/{j}     job
    /api/v1/projects/{p}/media/transforms/{t}/jobs/{j}/state   job_state

Anything else under /api/v1/ is `unknown` (404). Segments match exactly (the sources show
only lower case); names are percent-decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

PREFIX = "/api/v1/"

# Route kinds, also used in the request log and request_count(kind=...).
PROJECT_JOBS = "project_jobs"
TRANSFORMS = "transforms"
TRANSFORM = "transform"
JOBS = "jobs"
JOB = "job"
JOB_STATE = "job_state"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class MkioPath:
    kind: str
    project: str | None = None
    transform: str | None = None
    job: str | None = None

    @property
    def about_jobs(self) -> bool:
        """Needs the ams.job.get capability (else ams.transform.get)."""
        return self.kind in (PROJECT_JOBS, JOBS, JOB, JOB_STATE)


def is_mkio_path(path: str) -> bool:
    return path.startswith(PREFIX)


def parse_mkio_path(path: str) -> MkioPath | None:
    """None unless `path` (no query string) starts with /api/v1/."""
    if not is_mkio_path(path):
        return None
    try:
        parts = [unquote(s, errors="strict") for s in path[len(PREFIX):].split("/")]
    except UnicodeDecodeError:
        return MkioPath(UNKNOWN)
    if len(parts) < 2 or parts[0] != "projects" or not parts[1]:
        return MkioPath(UNKNOWN)
    project, rest = parts[1], parts[2:]
    if any(not s for s in rest) or not rest or rest[0] != "media":
        return MkioPath(UNKNOWN, project)
    rest = rest[1:]
    if rest == ["jobs"]:
        return MkioPath(PROJECT_JOBS, project)
    if not rest or rest[0] != "transforms":
        return MkioPath(UNKNOWN, project)
    if len(rest) == 1:
        return MkioPath(TRANSFORMS, project)
    transform = rest[1]
    if len(rest) == 2:
        return MkioPath(TRANSFORM, project, transform)
    if rest[2] != "jobs":
        return MkioPath(UNKNOWN, project)
    if len(rest) == 3:
        return MkioPath(JOBS, project, transform)
    if len(rest) == 4:
        return MkioPath(JOB, project, transform, rest[3])
    if len(rest) == 5 and rest[4] == "state":
        return MkioPath(JOB_STATE, project, transform, rest[3])
    return MkioPath(UNKNOWN, project)
