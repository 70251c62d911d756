"""The per-job family table is the truth: the exposition shows each family with its
declared help, type and labels, in table order, and each family is rendered from
exactly its declared fields (what decides which families a changed job renders
again), so incremental renders equal renders from scratch."""

from __future__ import annotations

import dataclasses
import gzip
import re
import zlib
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.jobs.model import ErrorInfo, Job
from exporter.jobs.states import JobState
from exporter.metrics.chunks import CHUNK_JOBS, new_block
from exporter.metrics.fill import render_members
from exporter.metrics.job_families import JOB_FAMILIES, JobFamily
from exporter.metrics.names import EXCLUDABLE
from exporter.metrics.per_job import AccountRenderer, render_account
from tests.helpers import T0, uid

#: Job fields that are labels (a change of them renders everything again).
LABEL_FIELDS = {"job_id", "name", "transform"}
#: The correlation labels the chunks are rendered with here (metrics.correlation_labels).
LABELS = ("tenant",)

JOBS = (
    Job(uid(1), "finished", JobState.Finished, T0 - 900, last_modified=T0 - 100,
        start_time=T0 - 800, end_time=T0 - 100, priority=1, template_id="tpl",
        progress=1.0, correlation=("acme",)),
    Job(uid(2), 'failed "quickly"', JobState.Error, T0 - 700, api_running_duration=12.5,
        errors=(ErrorInfo("E1", "Cat"),), correlation=("",)),
    Job(uid(3), "running 100%", JobState.Processing, T0 - 600, start_time=T0 - 500,
        progress=0.5, priority=2, correlation=('50% "off"',)),
    Job(uid(4), "queued", JobState.Queued, T0 - 50, transform="encode", correlation=("acme",)),
)

#: Per job field, a change of it.
CHANGES: dict[str, Callable[[Job], object]] = {
    "state": lambda job: JobState.Processing if job.state.is_final else JobState.Finished,
    "created": lambda job: job.created + 1,
    "last_modified": lambda job: (job.last_modified or T0) + 1,
    "start_time": lambda job: (job.start_time or T0 - 300) + 1,
    "end_time": lambda job: (job.end_time or T0) + 1,
    "api_running_duration": lambda job: (job.api_running_duration or 3.0) + 1,
    "priority": lambda job: job.priority + 1,
    "template_id": lambda job: job.template_id + "x",
    "progress": lambda job: 0.25 if job.progress != 0.25 else None,
    "errors": lambda job: (*job.errors, ErrorInfo("E2", "Other")),
    "created_unknown": lambda job: not job.created_unknown,
    "correlation": lambda job: (job.correlation[0] + "x",),
}


def test_every_field_but_the_labels_has_a_change():
    assert set(CHANGES) == {f.name for f in dataclasses.fields(Job)} - LABEL_FIELDS


def rendered(family: JobFamily, job: Job) -> tuple[str, str]:
    """(what is rendered with the jobs, the moving template) of one job's chunk."""
    parts = new_block("acct", frozenset(), (job,), eager=True,
                      correlation_labels=LABELS).parts()
    member = parts.members.get(family.name)
    template = parts.templates.get(family.name)
    return (gzip.decompress(member).decode() if member is not None else "",
            zlib.decompress(template, -15).decode() if template is not None else "")


@pytest.mark.parametrize("family", JOB_FAMILIES, ids=lambda family: family.name)
def test_a_family_is_rendered_from_its_declared_fields_only(family: JobFamily):
    for job in JOBS:
        for name, change in CHANGES.items():
            if name in family.fields:
                continue
            changed = dataclasses.replace(job, **{name: change(job)})
            assert rendered(family, changed) == rendered(family, job), (
                f"{family.name} changes with {name}, which it does not declare")


@pytest.mark.parametrize("family", [f for f in JOB_FAMILIES if f.fields],
                         ids=lambda family: family.name)
def test_each_declared_field_can_change_the_family(family: JobFamily):
    for name in family.fields:
        assert any(rendered(family, dataclasses.replace(job, **{name: CHANGES[name](job)}))
                   != rendered(family, job) for job in JOBS), (
            f"{family.name} declares {name} but never changes with it")


def exposition_text(rendered_account, now: float) -> str:
    return gzip.decompress(b"".join(render_members([rendered_account], now).members)).decode()


def test_the_exposition_shows_each_family_as_declared():
    text = exposition_text(render_account("acct", JOBS), T0)
    parsed = list(text_string_to_metric_families(text))
    assert [family.name for family in parsed] == [family.name for family in JOB_FAMILIES]
    for family, declared in zip(parsed, JOB_FAMILIES, strict=True):
        assert (family.documentation, family.type) == (declared.help, declared.type)
        assert family.samples, f"{declared.name}: no sample"
        for sample in family.samples:
            assert tuple(sample.labels) == declared.labels, sample
    # The parser keeps the order of the text: check it against the raw lines too.
    for line in text.splitlines():
        if not line.startswith("#"):
            name = line.split("{", 1)[0]
            [declared] = [f for f in JOB_FAMILIES if f.name == name]
            assert tuple(re.findall(r'[{,](\w+)="', line)) == declared.labels


def test_excludable_families_are_what_the_configuration_accepts():
    per_job = {family.name for family in JOB_FAMILIES}
    assert {name for name in EXCLUDABLE if name in per_job} == {
        family.name for family in JOB_FAMILIES if family.excludable}


def many_jobs(n: int) -> dict[tuple[str, str], Job]:
    jobs = {}
    for i in range(n):
        template = JOBS[i % len(JOBS)]
        job = dataclasses.replace(template, job_id=uid(1000 + i), created=T0 - 5000 + i)
        jobs[job.key] = job
    return jobs


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_a_changed_field_renders_as_from_scratch_by_refresh_and_by_event(field: str):
    jobs = many_jobs(2 * CHUNK_JOBS + 7)  # three chunks
    renderer = AccountRenderer("acct", correlation_labels=LABELS)
    before = renderer(jobs, None)
    keys = list(jobs)[::97]
    changed = {key: dataclasses.replace(jobs[key], **{field: CHANGES[field](jobs[key])})
               for key in keys}
    after = {**jobs, **changed}
    from_scratch = render_account("acct", after, correlation_labels=LABELS)
    fresh = exposition_text(from_scratch, T0)
    assert fresh != exposition_text(before, T0) or field == "created_unknown"
    by_refresh = renderer(after, before)
    assert exposition_text(by_refresh, T0) == fresh  # a refresh
    by_events = renderer.update(before, changed)
    assert exposition_text(by_events, T0) == fresh  # push events
    assert (by_refresh.counts, by_refresh.oldest_created) == (
        from_scratch.counts, from_scratch.oldest_created)
    assert (by_events.counts, by_events.oldest_created) == (
        from_scratch.counts, from_scratch.oldest_created)
