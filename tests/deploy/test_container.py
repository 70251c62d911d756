"""The container image, built from the Dockerfile and run without a Docker engine.

Uses scripts/image (podman; it installs podman and debootstrap when missing and
builds a local Debian base the first time, which takes minutes). `image run` chroots
into the image's filesystem, mounted read-only, as the image's USER with only the
image's ENV, on the host's network: so the exporter below runs from the image, as uid
65532, on a read-only root filesystem, against a simulator on 127.0.0.1.

These tests fail (they do not skip) when the image cannot be built or run.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from exporter import __version__
from tests.helpers import ROOT, output_lines

IMAGE_TOOL = ROOT / "scripts" / "image"
TAG = "ams-job-exporter:test"
REF = f"localhost/{TAG}"
UID = 65532
#: First build on a fresh machine: apt-get install podman, debootstrap a base, pip.
BUILD_TIMEOUT = 1800

#: builds and runs the image with podman
pytestmark = [pytest.mark.system, pytest.mark.timeout(BUILD_TIMEOUT + 600)]


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def image_tool(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    if not IMAGE_TOOL.is_file():
        pytest.fail(f"{IMAGE_TOOL} not found: it belongs to the repository")
    return subprocess.run(["bash", str(IMAGE_TOOL), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def run_in_image(ref: str, *command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return image_tool("run", ref, *command, timeout=timeout)


@pytest.fixture(scope="module")
def image() -> str:
    started = time.monotonic()
    try:
        result = image_tool("build", TAG, str(ROOT), timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"image build did not finish within {BUILD_TIMEOUT}s")
    if result.returncode != 0:
        pytest.fail(f"image build failed (exit {result.returncode}):\n{_tail(result.stderr)}")
    assert result.stdout.strip().splitlines()[-1] == REF
    print(f"image built in {time.monotonic() - started:.0f}s")
    _remove_superseded_images()
    return REF


def _remove_superseded_images() -> None:
    """Each build that changes the code leaves the previous test image and build stage
    untagged: remove them (keeping the newest build stage, the layer cache of the next
    build), so repeated runs on one machine do not fill its disk."""
    def untagged(title: str) -> list[str]:
        result = podman("images", "--filter", "dangling=true", "--filter",
                        f"label=org.opencontainers.image.title={title}", "--format", "json")
        images = json.loads(result.stdout or "[]") if result.returncode == 0 else []
        return [i["Id"] for i in sorted(images, key=lambda i: i["Created"], reverse=True)]

    stale = untagged("ams-job-exporter") + untagged("ams-job-exporter-build")[1:]
    for image_id in stale:
        podman("rmi", image_id)  # best effort: an image still in use stays


@pytest.fixture(scope="module")
def image_config(image: str) -> dict:
    result = podman("image", "inspect", image)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]["Config"]


def test_image_metadata(image_config: dict):
    config = image_config
    assert config["User"] == f"{UID}:{UID}"
    assert "10046/tcp" in config["ExposedPorts"]
    assert config["Entrypoint"] == ["/opt/venv/bin/ams-job-exporter"]
    assert config["Cmd"] == ["--config.file", "/etc/ams-job-exporter/config.yaml"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    labels = config["Labels"]
    for key in ("version", "revision", "source", "title"):
        assert labels.get(f"org.opencontainers.image.{key}"), key


def test_image_holds_only_the_venv_and_runs_as_non_root(image: str):
    script = (
        "import importlib.util, json, os, sys, exporter; print(json.dumps({"
        "'uid': os.getuid(), 'gid': os.getgid(), 'version': exporter.__version__,"
        "'prefix': sys.prefix, 'pip': importlib.util.find_spec('pip') is not None,"
        "'src': os.path.exists('/src'), 'tests': os.path.exists('/opt/venv/tests'),"
        "'venv_writable': os.access('/opt/venv', os.W_OK),"
        "'pyc': any(n.endswith('.pyc') for n in os.listdir("
        "os.path.join(os.path.dirname(exporter.__file__), '__pycache__')))}))")
    result = run_in_image(image, "python3", "-c", script)
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts == {"uid": UID, "gid": UID, "version": __version__, "prefix": "/opt/venv",
                     "pip": False, "src": False, "tests": False, "venv_writable": False,
                     "pyc": True}
    result = run_in_image(image, "ams-job-exporter", "--version")
    assert result.returncode == 0 and __version__ in result.stdout, result.stderr
    # The tool mounts the image read-only: the exporter test below runs on a read-only
    # root filesystem (stricter than Kubernetes, which gives it a writable /tmp).
    result = run_in_image(image, "sh", "-c", "touch /tmp/probe")
    assert result.returncode != 0 and "Read-only file system" in result.stderr


# ---------------------------------------------------------------- the exporter in the image

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen[str]) -> None:
    """Stop a process started in its own session: SIGTERM first (for `image run`, to the
    exporter inside, so the tool's exit trap unmounts the image), then the group."""
    if process.poll() is None:
        for pid in _descendants(process.pid):
            if b"ams-job-exporter" in _cmdline(pid):
                _signal(pid, signal.SIGTERM)
        if not _descendants(process.pid):
            process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture
def simulator() -> Iterator[str]:
    """`ams-job-exporter simulate` on the host's loopback; yields the v2 endpoint."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", "simulate", "--listen", f"127.0.0.1:{port}",
         "--jobs", "60", "--seed", "5", "--accounts", "media", "--no-auth"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    lines = output_lines(process)
    try:
        deadline = time.monotonic() + 60
        endpoint = None
        while endpoint is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert process.poll() is None, "the simulator exited"
                continue
            match = re.search(r"account media: (\S+)", line)
            endpoint = match.group(1) if match else None
        assert endpoint, "the simulator did not print its endpoint"
        yield endpoint
    finally:
        _stop(process)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # the ppid is the 2nd field after the parenthesised command name
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    result, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            result.append(child)
            todo.append(child)
    return result


def _ids(pid: int) -> dict[str, list[int]]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: [int(v) for v in value.split()]
            for key, value in re.findall(r"^(Uid|Gid):\s+(.*)$", status, re.MULTILINE)}


def _listener_uid(port: int) -> int | None:
    """The uid owning the TCP socket listening on 127.0.0.1:port (from /proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[3] == "0A":  # 0A: LISTEN
            return int(fields[7])
    return None


@pytest.fixture
def configured_image(image: str, simulator: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The image with a config at the path its default command reads, the way the Helm
    chart mounts it (a derived image: `image run` cannot mount files)."""
    port = _free_port()
    context = tmp_path / "context"
    context.mkdir()
    (context / "config.yaml").write_text(yaml.safe_dump({
        "refresh": {"min_interval": "2s", "timeout": "10s"},
        "accounts": [{"name": "media", "api": "v2", "endpoint": simulator,
                      "auth": {"method": "none"}, "progress": True}],
    }))
    (context / "Dockerfile").write_text(
        "ARG BASE_IMAGE\n"
        f"FROM {image}\n"
        "COPY config.yaml /etc/ams-job-exporter/config.yaml\n"
        f"ENV AMS_EXPORTER_WEB_LISTEN_ADDRESS=127.0.0.1:{port}\n")
    tag = f"ams-job-exporter:test-config-{os.getpid()}"
    result = image_tool("build", tag, str(context), timeout=600)
    assert result.returncode == 0, _tail(result.stderr)
    try:
        yield f"localhost/{tag}", port
    finally:
        podman("rmi", "--force", f"localhost/{tag}")


def test_exporter_in_the_image_serves_job_metrics_as_uid_65532(
        configured_image: tuple[str, int], image_config: dict):
    ref, port = configured_image
    # exactly the image's ENTRYPOINT + CMD
    command = image_config["Entrypoint"] + image_config["Cmd"]
    process = subprocess.Popen(["bash", str(IMAGE_TOOL), "run", ref, *command],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    output = output_lines(process)
    url = f"http://127.0.0.1:{port}"

    def log() -> str:
        text = []
        while not output.empty():
            text.append(output.get_nowait())
        return "".join(text)

    try:
        deadline = time.monotonic() + 90
        ready = False
        while not ready and time.monotonic() < deadline:
            assert process.poll() is None, f"the exporter exited:\n{log()}"
            with contextlib.suppress(requests.ConnectionError):
                ready = requests.get(f"{url}/readyz", timeout=5).status_code == 200
            if not ready:
                time.sleep(0.5)
        assert ready, f"/readyz not 200 within 90s:\n{log()}"

        answer = requests.get(f"{url}/metrics", timeout=30)
        assert answer.status_code == 200
        samples = {}
        for family in text_string_to_metric_families(answer.text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append(sample)
        assert [s.value for s in samples["ams_up"] if s.labels["account"] == "media"] == [1]
        jobs = {s.labels["job_id"] for s in samples["ams_job_state"]
                if s.labels["account"] == "media"}
        assert len(jobs) > 10, f"{len(jobs)} jobs exported"
        assert sum(s.value for s in samples["ams_jobs"]) == len(jobs)

        # Who serves: the socket and the process, seen from the host.
        assert _listener_uid(port) == UID
        exporters = [pid for pid in _descendants(process.pid)
                     if b"ams-job-exporter" in _cmdline(pid)]
        assert len(exporters) == 1, exporters
        pid = exporters[0]
        assert _ids(pid) == {"Uid": [UID] * 4, "Gid": [UID] * 4}
        root = os.readlink(f"/proc/{pid}/root")
        assert root != "/", "the exporter must run inside the image's filesystem"
        assert os.readlink(f"/proc/{pid}/exe").startswith(root + "/")

        # SIGTERM stops it cleanly (exit 0), as a Kubernetes pod deletion would.
        os.kill(pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log()
    finally:
        _stop(process)


def test_helm_test_hook_passes_inside_the_image(configured_image: tuple[str, int],
                                                image_config: dict):
    """The chart's `helm test` pod runs this image's python with a script: run that
    command in the image against the exporter (also in the image)."""
    helm = ROOT / ".tools" / "bin" / "helm"
    helm_path = str(helm) if helm.is_file() else shutil.which("helm")
    if not helm_path:
        pytest.fail("helm not found: run ./test.sh (installs it into .tools/bin)")
    rendered = subprocess.run(
        [helm_path, "template", "x", str(ROOT / "helm" / "ams-job-exporter"),
         "--show-only", "templates/tests/test-metrics.yaml"],
        capture_output=True, text=True, timeout=60)
    assert rendered.returncode == 0, rendered.stderr
    test = yaml.safe_load(rendered.stdout)["spec"]["containers"][0]
    ref, port = configured_image
    exporter = subprocess.Popen(
        ["bash", str(IMAGE_TOOL), "run", ref,
         *image_config["Entrypoint"], *image_config["Cmd"]],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True)
    try:
        result = run_in_image(
            ref, "env", f"EXPORTER_URL=http://127.0.0.1:{port}", "READY_TIMEOUT=90",
            *test["command"], *test["args"], timeout=150)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"ok http://127.0.0.1:{port}/metrics" in result.stdout
    finally:
        _stop(exporter)
