"""The one job source of AMS v3, RMS and MK.IO, against a client that records what
it is asked: each API's filter dialect, name batches, and how each knows its
transforms."""

from __future__ import annotations

import pytest

from exporter.backends.ams_v3.client import V3_FILTERS
from exporter.backends.ams_v3.source import DiscoveredTransforms
from exporter.backends.arm_source import NAMES_PER_REQUEST, ArmSource, Transforms
from exporter.backends.mkio.client import MKIO_FILTERS, WHOLE_PROJECT
from exporter.backends.mkio.source import SeenTransforms
from exporter.jobs.model import Job, Listing
from exporter.jobs.selection import JobSelection
from exporter.jobs.states import JobState

NOW = 1767225600.0  # 2026-01-01T00:00:00Z
DAY = 86400.0


class RecordingClient:
    """Answers each listing with the jobs of its transform; records the requests."""

    max_jobs: int | None = None

    def __init__(self, jobs: dict[str, list[Job]] | None = None, fail: bool = False) -> None:
        self.jobs = jobs or {}
        self.fail = fail
        self.calls: list[tuple[str, str]] = []

    def list_jobs(self, transform: str, filter_text: str = "") -> Listing:
        self.calls.append((transform, filter_text))
        if self.fail:
            raise RuntimeError("the API is down")
        listing = Listing()
        for job in self.jobs.get(transform, []):
            listing.add(job)
        return listing


def job(name: str, transform: str) -> Job:
    return Job(job_id=name, name=name, state=JobState.Processing, created=NOW - 60,
               transform=transform)


def source(client: RecordingClient, transforms: Transforms, v3: bool = True,
           **selection: object) -> ArmSource:
    return ArmSource(JobSelection.model_validate(selection), client,
                     V3_FILTERS if v3 else MKIO_FILTERS, transforms, DAY)


def test_each_api_writes_the_lookback_and_states_in_its_own_dialect():
    v3, mkio = RecordingClient(), RecordingClient()
    source(v3, DiscoveredTransforms(("t",), list), states=["Error"]).fetch_all(NOW)
    source(mkio, SeenTransforms(()), v3=False, states=["Error"]).fetch_all(NOW)
    assert v3.calls == [("t", "properties/state eq Microsoft.Media.JobState'Error' and "
                              "properties/created ge 2025-12-31T00:00:00.0000000Z")]
    assert mkio.calls == [(WHOLE_PROJECT, "properties/state eq 'Error' and "
                                          "properties/created ge 2025-12-31T00:00:00Z")]


def test_changed_jobs_are_listed_since_the_watermark_or_while_active():
    client = RecordingClient()
    source(client, SeenTransforms(()), v3=False).fetch_changed(NOW)
    [(_, filter_text)] = client.calls
    assert filter_text.startswith("(properties/lastModified gt 2026-01-01T00:00:00Z or ")
    assert "properties/state eq 'Processing'" in filter_text


def test_selected_names_go_in_batches_through_every_transform():
    client = RecordingClient()
    names = [f"job-{i}" for i in range(NAMES_PER_REQUEST + 5)]
    arm = source(client, DiscoveredTransforms(("a", "b"), list), ids=names)
    arm.fetch_all(NOW)
    assert [transform for transform, _ in client.calls] == ["a", "a", "b", "b"]
    second = " or ".join(f"name eq 'job-{i}'" for i in range(NAMES_PER_REQUEST, len(names)))
    assert client.calls[1][1] == f"({second})"
    assert arm.fetch_changed(NOW) is None


def test_jobs_by_key_are_listed_by_name_per_transform():
    client = RecordingClient({"a": [job("x", "a")], WHOLE_PROJECT: [job("y", "")]})
    found = source(client, SeenTransforms(()), v3=False).fetch_keys([("a", "x"), ("", "y")])
    assert set(found.jobs) == {("a", "x"), ("", "y")}
    assert client.calls == [("a", "name eq 'x'"), (WHOLE_PROJECT, "name eq 'y'")]


def test_discovered_transforms_change_only_with_a_successful_full_sync():
    discovered = ["one", "two"]
    transforms = DiscoveredTransforms((), lambda: discovered)
    client = RecordingClient()
    arm = source(client, transforms)
    assert arm.known_transforms == ()
    arm.fetch_all(NOW)
    assert arm.known_transforms == ("one", "two")
    discovered.append("three")
    arm.fetch_changed(NOW)
    assert [t for t, _ in client.calls[2:]] == ["one", "two"]  # not rediscovered
    client.fail = True
    with pytest.raises(RuntimeError):
        arm.fetch_all(NOW)
    assert arm.known_transforms == ("one", "two")
    client.fail = False
    arm.fetch_all(NOW)
    assert arm.known_transforms == ("one", "two", "three")


def test_mkio_learns_its_transforms_from_the_project_wide_listing():
    client = RecordingClient({WHOLE_PROJECT: [job("x", "h264"), job("y", "audio")]})
    arm = source(client, SeenTransforms(("configured",)), v3=False)
    assert arm.known_transforms == ("configured",)
    arm.fetch_all(NOW)
    assert [t for t, _ in client.calls] == ["configured"]  # configured: listed one by one
    arm = source(client, SeenTransforms(()), v3=False)
    arm.fetch_changed(NOW)
    assert arm.known_transforms == ("audio", "h264")
