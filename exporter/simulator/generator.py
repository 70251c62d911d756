"""Deterministic synthetic jobs: names, ids and lifecycles drawn from a seeded Random."""

from __future__ import annotations

import random
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from exporter.jobs.states import JobState
from exporter.simulator.jobs import SimJob

_TITLES = (
    "BigBuckBunny", "Sintel", "Tears of Steel", "Elephants Dream", "Cosmos Laundromat",
    "Caminandes Llamigos", "Spring", "Agent 327", "Quarterly all-hands 2015-Q1",
    "Product launch keynote", "Webinar recording", "Drone footage 4K", "Interview raw cut",
    # Awkward names on purpose: quotes, non-ASCII, emoji, markup-like characters.
    "O'Brien's interview", 'The "Director\'s Cut"', "Café Müller – Tanztheater",
    "東京 2015 recap", "Ålesund timelapse", "Ελληνικά sample", "🎬 trailer #3",
    "Q&A <live> 50% off",
)
_PRESETS = (
    "H264 Adaptive Bitrate MP4 Set 720p", "H264 Adaptive Bitrate MP4 Set 1080p",
    "H264 Multiple Bitrate 720p", "H264 Multiple Bitrate 1080p", "H264 Single Bitrate 720p",
    "Adaptive Streaming", "Content Adaptive Multiple Bitrate MP4",
)
_TEMPLATES = (
    "nb:jtid:UUID:2a7f1b55-5c8e-4f0e-9a62-6f3d0e2f6a11",
    "nb:jtid:UUID:8d1c6a0b-3e4f-4b2a-8f71-c5a9e0d2b733",
    "nb:jtid:UUID:f0e9d8c7-b6a5-4433-9c21-0a1b2c3d4e55",
)
_ERROR_CODES = (
    "ErrorProcessingTask", "ErrorDownloadingInputAssetMalformedContent",
    "ErrorDownloadingInputAssetServiceFailure", "ErrorParsingConfiguration",
    "ErrorExecutingTaskMalformedContent", "ErrorExecutingTaskUnsupportedFormat",
)
# v3 output error codes, content problems most common (repeats weight the draw).
_V3_ERROR_CODES = (
    "ContentMalformed", "ContentMalformed", "ContentMalformed", "ContentUnsupported",
    "ContentUnsupported", "ServiceError", "ServiceTransientError", "DownloadNotAccessible",
    "DownloadTransientError", "UploadNotAccessible", "UploadTransientError",
    "ConfigurationUnsupported", "IdentityUnsupported",
)


#: The customers and workflows of generated v3 jobs' correlationData, by default.
TENANTS = ("contoso", "fabrikam", "northwind", "tailspin", "woodgrove")
WORKFLOWS = ("vod", "news", "ads")


#: With a number of values, the workflows each customer runs (as real tenants do: a
#: few each, so customer x workflow pairs grow with the values, not their square).
WORKFLOWS_PER_CUSTOMER = 3


def correlation_data(job_id: str, values: int | None = None) -> dict[str, object]:
    """A generated job's correlationData: `customerId` and, for nine jobs in ten,
    `workflow`; with `values`, that many distinct ones of each (customer-000, ...,
    workflow-000, ...; customer i runs workflows 7i, 7i + 1 and 7i + 2 modulo
    `values`, so every workflow is used), else the few named above. Derived from the
    job's id (itself drawn from the seed), so it draws nothing from the seeded
    stream: the jobs of a seed stay what they were."""
    digest = zlib.crc32(job_id.encode("utf-8"))
    if values is None:
        customer, workflow = TENANTS[digest % len(TENANTS)], WORKFLOWS[
            (digest >> 8) % len(WORKFLOWS)]
    else:
        index = digest % values
        runs = (digest >> 12) % WORKFLOWS_PER_CUSTOMER
        customer = f"customer-{index:03d}"
        workflow = f"workflow-{(7 * index + runs) % values:03d}"
    data: dict[str, object] = {"customerId": customer}
    if (digest >> 24) % 10:
        data["workflow"] = workflow
    return data


@dataclass(frozen=True)
class Profile:
    """Phase lengths (seconds, uniform ranges) and outcome odds of a job population."""

    queued: tuple[float, float]
    scheduled: tuple[float, float]
    processing: tuple[float, float]
    canceling: tuple[float, float]
    finished: float  # probabilities; Error, Canceled, then "stays active" take the rest
    error: float
    canceled: float


# A realistic account: most jobs finish; ~5% never do (stuck in some active state).
REALISTIC = Profile((1, 8), (1, 20), (30, 600), (2, 20), finished=0.80, error=0.10, canceled=0.05)
# Demo mode: short lives (about 10 s to 3 min) and every job ends.
LIVELY = Profile((1, 5), (1, 10), (5, 150), (2, 8), finished=0.70, error=0.18, canceled=0.12)


def job_id(rng: random.Random) -> str:
    return f"nb:jid:UUID:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def v3_job_name(rng: random.Random) -> str:
    """A v3 job resource name such as job-3f2a9c0d5e7b1a46 (64 random bits)."""
    return f"job-{rng.getrandbits(64):016x}"


@dataclass(frozen=True)
class Flavor:
    """What differs between the API generations' jobs: ids, error codes, outputs."""

    new_id: Callable[[random.Random], str]
    error_codes: tuple[str, ...]
    draws_outputs: bool  # v3 jobs have 1-3 outputs; v2 draws nothing for it
    #: Whether jobs carry correlationData (v3), and how many distinct values of each
    #: key (None: the few named ones; see correlation_data).
    correlated: bool = False
    correlation_values: int | None = None


V2 = Flavor(job_id, _ERROR_CODES, draws_outputs=False)
V3 = Flavor(v3_job_name, _V3_ERROR_CODES, draws_outputs=True, correlated=True)


def job_name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.005:
        return ""
    title = rng.choice(_TITLES)
    if roll < 0.01:
        title = " ".join([title] * 150)  # a few thousand characters
    elif roll < 0.3:
        title = f"{title} part {rng.randint(1, 12)}"
    return f"Encoding {title} into {rng.choice(_PRESETS)}"


def _uniform(rng: random.Random, bounds: tuple[float, float]) -> float:
    return round(rng.uniform(*bounds), 3)


def make_job(
    rng: random.Random, created: float, profile: Profile, flavor: Flavor = V2
) -> SimJob:
    """One job created at `created` with a whole lifecycle drawn from `profile`.

    The v2 flavor draws exactly what it always did, so seeded v2 data stays the same.
    """
    ident, name = flavor.new_id(rng), job_name(rng)
    scheduled = created + _uniform(rng, profile.queued)
    processing = scheduled + _uniform(rng, profile.scheduled)
    planned = _uniform(rng, profile.processing)
    stop = processing + planned * rng.uniform(0.05, 0.95)  # where Error/Cancel strike
    events = [(scheduled, JobState.Scheduled), (processing, JobState.Processing)]
    roll = rng.random()
    error_code = None
    if roll < profile.finished:
        events.append((processing + planned, JobState.Finished))
    elif roll < profile.finished + profile.error:
        events.append((stop, JobState.Error))
        error_code = rng.choice(flavor.error_codes)
    elif roll < profile.finished + profile.error + profile.canceled:
        events.append((stop, JobState.Canceling))
        events.append((stop + _uniform(rng, profile.canceling), JobState.Canceled))
    else:
        del events[rng.randrange(len(events) + 1):]  # stuck: Queued, Scheduled or Processing
        planned *= 10  # progress keeps creeping rather than sitting at 100
    job = SimJob(
        id=ident,
        name=name,
        created=created,
        events=[(round(t, 3), s) for t, s in events],  # whole milliseconds, like .NET
        priority=rng.choice((0,) * 17 + (1, 2, 5)),
        template_id=rng.choice(_TEMPLATES) if rng.random() < 0.15 else None,
        tasks=rng.choice((1,) * 17 + (2, 2, 3)),
        error_code=error_code,
        expected_processing=planned,
    )
    if flavor.draws_outputs:
        job.priority = rng.choice((0,) * 14 + (-1, -1, 1, 1, 2, 5))  # Low, Normal, High
        job.outputs = rng.choice((1,) * 8 + (2, 3))
    if flavor.correlated:
        job.correlation = correlation_data(ident, flavor.correlation_values)
    return job


def generate(
    rng: random.Random, n: int, start: float, end: float, flavor: Flavor = V2
) -> list[SimJob]:
    """`n` realistic jobs created spread over [start, end), oldest first."""
    created = sorted(start + (end - start) * rng.random() for _ in range(n))
    return [make_job(rng, round(t, 3), REALISTIC, flavor) for t in created]
