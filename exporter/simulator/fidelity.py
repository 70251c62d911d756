"""Opt-in variety the real service showed, so a client reading the wrong field is caught.

docs/ams-api.md lists what captured AMS answers did beyond the tidy sketches: v2 verbose
dates sometimes ISO 8601 with `Z` instead of `/Date(ms)/`, inline collection items
without `__metadata`, Tasks with HistoricalEvents, RunningDuration that is not
EndTime - StartTime, v3 inputs as `#Microsoft.Media.JobInputs`, output labels
`{presetName}_{index}`, error detail codes unlike the top-level code, times with seven
fractional digits, and 2018-era bodies (`"error": null`, a Processing job without
`startTime`, `created` of 0001-01-01T00:00:00Z, no systemData; a job not started yet
with `lastModified` of 0001-01-01T00:00:00Z too, so it carries no real time at all).

Off by default (Simulator(fidelity=False)): the bodies tests and the golden exposition
pin stay as they were. When on, which job shows which trait depends only on the seed
and the job's id, so a run is reproducible and every trait appears in any sizeable
population. The underlying instants never change: a seventh fractional digit is extra
precision below the microsecond the simulator keeps, filters and ordering still use the
microsecond value.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

# Shares of jobs with each trait (every trait is drawn independently).
SEVENTH_DIGIT_SHARE = 0.35
ISO_VERBOSE_SHARE = 0.4
ERA_2018_SHARE = 0.12
SHORT_DURATION_SHARE = 0.5


@dataclass(frozen=True)
class Traits:
    """How one job's bodies vary."""

    seventh_digit: int | None  # 1-9: a 100-ns digit appended to every time of the job
    iso_verbose: bool  # v2 verbose JSON writes this job's dates as ISO 8601 with Z
    era_2018: bool  # v3: 2018-style body
    duration_ratio: float  # v2 RunningDuration = (EndTime - StartTime) * ratio, final jobs


@functools.lru_cache(maxsize=100_000)
def _draw(seed: int, job_id: str) -> Traits:
    rng = random.Random(f"{seed}/fidelity/{job_id}")
    seventh = rng.randint(1, 9) if rng.random() < SEVENTH_DIGIT_SHARE else None
    iso = rng.random() < ISO_VERBOSE_SHARE
    era = rng.random() < ERA_2018_SHARE
    ratio = round(rng.uniform(0.55, 0.97), 4) if rng.random() < SHORT_DURATION_SHARE else 1.0
    return Traits(seventh, iso, era, ratio)


class Fidelity:
    """The switch and the seed; `traits(job_id)` is None while the switch is off."""

    def __init__(self, seed: int, enabled: bool = False) -> None:
        self.seed = seed
        self.enabled = enabled

    def traits(self, job_id: str) -> Traits | None:
        return _draw(self.seed, job_id) if self.enabled else None


def with_seventh_digit(text: str, traits: Traits | None) -> str:
    """`...:SS[.ffffff]` (no zone) with the job's seventh fractional digit, if it has one."""
    if traits is None or traits.seventh_digit is None:
        return text
    head, dot, fraction = text.partition(".")
    return f"{head}.{fraction.ljust(6, '0')}{traits.seventh_digit}" if dot else \
        f"{head}.000000{traits.seventh_digit}"
