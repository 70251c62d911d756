"""The per-job families, each declared once: its name, help, type and labels, how
its samples come from a job, whether `metrics.exclude` may name it, and the job
fields it is rendered from. The chunks (exporter.metrics.chunks), the scrape's
fill (exporter.metrics.fill) and the names the configuration accepts
(exporter.metrics.names) all derive from JOB_FAMILIES.

A family's samples come from a job in one of four ways (`samples`):

- Value: one sample, the job's value (none when the job has none);
- PerState: one sample per state, labelled with it, 1 for the job's state;
- Labelled: a sample of value 1 per tuple of label values (info-style);
- Moving: seconds since a time of the job, which move with the scrape's clock, so
  they are filled in at scrape time; with `frozen`, a final job's value no longer
  moves and is rendered with the jobs instead.

Everything but a Moving family's moving values is rendered when the jobs change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Literal

from exporter.jobs.model import Job
from exporter.jobs.states import JobState
from exporter.metrics.text import escape, number

#: The labels every per-job sample starts with, in this order.
JOB_LABELS = ("account", "transform", "job_id", "job_name")

LineWriter = Callable[[str, Job], str]
"""A job's lines of one family, given the job's label prefix: `{account="..",…,
job_name=".."`, left open for the extra labels (exporter.metrics.chunks)."""


@dataclass(frozen=True)
class Value:
    """One sample: `get(job)`; no sample when that is None."""

    get: Callable[[Job], float | None]

    def writer(self, name: str, extra_labels: tuple[str, ...]) -> LineWriter:
        assert not extra_labels, f"{name}: a Value sample has no extra labels"
        get = self.get

        def write(prefix: str, job: Job) -> str:
            value = get(job)
            return "" if value is None else f"{name}{prefix}}} {number(value)}\n"
        return write


@dataclass(frozen=True)
class PerState:
    """One sample per state, labelled with the state's name: 1 for the job's, 0 for
    the others."""

    def writer(self, name: str, extra_labels: tuple[str, ...]) -> LineWriter:
        [label] = extra_labels
        # A job's lines are its state's lines, split where the label prefix goes,
        # joined by its prefix: one C-level join (this family has the most lines).
        def pieces(state: JobState) -> tuple[str, ...]:
            return tuple("".join(f'{name}\0,{label}="{each.name}"}} '
                                 f'{"1.0" if each is state else "0.0"}\n'
                                 for each in JobState).split("\0"))
        by_state = {state: pieces(state) for state in JobState}

        def write(prefix: str, job: Job) -> str:
            return prefix.join(by_state[job.state])
        return write


@dataclass(frozen=True)
class Labelled:
    """A sample of value 1 per tuple of values (of the extra labels, in order) that
    `get(job)` gives."""

    get: Callable[[Job], Sequence[tuple[str, ...]]]

    def writer(self, name: str, extra_labels: tuple[str, ...]) -> LineWriter:
        # A % format: the label values are arguments, so a `%` in them is only text.
        line = name + "%s" + "".join(f',{label}="%s"' for label in extra_labels) + "} 1.0\n"
        get = self.get

        def write(prefix: str, job: Job) -> str:
            samples = get(job)
            if len(samples) == 1:  # the usual cases first: one sample, or none
                return line % (prefix, *map(escape, samples[0]))
            if not samples:
                return ""
            return "".join([line % (prefix, *map(escape, values)) for values in samples])
        return write


@dataclass(frozen=True)
class Moving:
    """Seconds from the job's `since` field to the scrape's clock, never below 0 (0
    while the field is None), filled in at scrape time (exporter.metrics.fill).
    With `frozen`, only the jobs that are not final move: a final job's value is
    `frozen(job)`, rendered with the jobs like a Value."""

    since: str
    frozen: Callable[[Job], float] | None = None

    def writer(self, name: str, extra_labels: tuple[str, ...]) -> LineWriter | None:
        """The writer of the final jobs' frozen values, if the family has them."""
        frozen = self.frozen
        if frozen is None:
            return None
        return Value(lambda job: frozen(job) if job.state.is_final else None).writer(
            name, extra_labels)


@dataclass(frozen=True)
class JobFamily:
    """One per-job family, as everything else sees it."""

    name: str
    help: str
    samples: Value | PerState | Labelled | Moving
    #: The job fields what is rendered with the jobs is made from, besides the
    #: labels: a chunk whose jobs stay the same renders the family again only when
    #: one of them changed. (A moving value is computed at each fill anyway.)
    fields: tuple[str, ...] = ()
    #: Labels after JOB_LABELS, in the order the samples carry them.
    extra_labels: tuple[str, ...] = ()
    #: Per-job families are gauges: their lines then read the same in the 0.0.4
    #: text format and in OpenMetrics, so one rendering serves both.
    type: Literal["gauge"] = "gauge"
    #: Whether `metrics.exclude` may name it (an excluded family is not rendered).
    excludable: bool = True
    #: Whether the correlation labels (`metrics.correlation_labels`) follow the
    #: extra labels (a Labelled family only).
    correlated: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return JOB_LABELS + self.extra_labels

    @property
    def moving(self) -> Moving | None:
        return self.samples if isinstance(self.samples, Moving) else None

    def writer(self, correlation_labels: tuple[str, ...] = ()) -> LineWriter | None:
        """The writer of what is rendered with the jobs (None: nothing is), with
        the correlation labels if the family carries them."""
        samples = self.samples
        if not (self.correlated and correlation_labels):
            return samples.writer(self.name, self.extra_labels)
        assert isinstance(samples, Labelled), f"{self.name}: only Labelled is correlated"
        get = samples.get
        return Labelled(lambda job: [(*values, *job.correlation) for values in get(job)]
                        ).writer(self.name, self.extra_labels + correlation_labels)


def _end_time(job: Job) -> float | None:
    return job.end_time if job.state.is_final else None


def _running_final(job: Job) -> float:
    return job.running_duration(0.0)  # final: frozen, whatever the clock


#: The per-job families, in exposition order.
JOB_FAMILIES: tuple[JobFamily, ...] = (
    JobFamily("ams_job_state", "1 for the job's current state, 0 for the others.",
              PerState(), fields=("state",), extra_labels=("state",)),
    JobFamily("ams_job_state_code",
              "The job's state as its v2 number (0 Queued .. 6 Canceling).",
              Value(lambda job: int(job.state)), fields=("state",)),
    JobFamily("ams_job_progress_ratio", "Job progress from 0 to 1, when known.",
              Value(attrgetter("progress")), fields=("progress",)),
    JobFamily("ams_job_priority", "Job priority (v3: Low=0, Normal=1, High=2).",
              Value(attrgetter("priority")), fields=("priority",)),
    JobFamily("ams_job_created_timestamp_seconds", "Unix time the job was created.",
              Value(attrgetter("created")), fields=("created",)),
    JobFamily("ams_job_start_timestamp_seconds", "Unix time the job started processing.",
              Value(attrgetter("start_time")), fields=("start_time",)),
    JobFamily("ams_job_end_timestamp_seconds", "Unix time the job reached a final state.",
              Value(_end_time), fields=("state", "end_time")),
    JobFamily("ams_job_last_modified_timestamp_seconds", "Unix time the job was last modified.",
              Value(attrgetter("last_modified")), fields=("last_modified",)),
    JobFamily("ams_job_info", "Static job metadata; always 1.",
              Labelled(lambda job: ((job.template_id, str(job.priority)),)),
              fields=("template_id", "priority", "correlation"),
              extra_labels=("template_id", "priority"), correlated=True),
    JobFamily("ams_job_error_info", "1 per distinct error code of a failed job.",
              Labelled(lambda job: [(error.code, error.category) for error in job.errors]),
              fields=("errors",), extra_labels=("code", "category")),
    # Rendered with the jobs: which jobs are active (the template) and the final
    # jobs' frozen durations.
    JobFamily("ams_job_running_duration_seconds",
              "Seconds the job has been running (frozen once final).",
              Moving("start_time", frozen=_running_final),
              fields=("state", "start_time", "end_time", "api_running_duration")),
    JobFamily("ams_job_age_seconds", "Seconds since the job was created.", Moving("created")),
)
