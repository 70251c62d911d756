"""Hostile input from the configuration and from upstream: bounded time and memory,
and no account frozen by one bad character."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporter.app.config import parse_config
from exporter.config.errors import ConfigError
from exporter.jobs.selection import NamePattern
from exporter.jobs.states import JobState
from exporter.simulator import SimJob
from tests.helpers import T0, scrape, v2_config


def test_name_regex_runs_in_linear_time():
    # Python's backtracking re needs ~2**n steps here (n = 5000: never ends); RE2 is linear.
    pattern = NamePattern("(a+)+$")
    assert pattern.search("a" * 5000 + "b") is False
    assert pattern.search("a" * 5000) is True


@pytest.mark.parametrize("regex", ["(?<=a)b", "(a)\\1", "[z-a]"])
def test_patterns_re2_cannot_compile_are_config_errors(regex):
    with pytest.raises(ConfigError, match=r"^accounts\[0\]\.jobs\.name_regex: invalid regular "
                                          r"expression \(RE2 syntax\)"):
        parse_config(f"accounts: [{{name: a, endpoint: 'http://h/api/', "
                     f"jobs: {{name_regex: '{regex}'}}}}]", {})


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path: Path):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 9):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    lines.append("accounts: [*a8]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 600
    result = subprocess.run([sys.executable, "-m", "exporter", "check-config", "--config.file",
                             str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "YAML aliases expand too far" in result.stderr


def test_too_many_aliases_are_refused():
    text = "x: &x 1\ny: [" + ",".join(["*x"] * 101) + "]\naccounts: []"
    with pytest.raises(ConfigError, match="more than 100 YAML aliases"):
        parse_config(text, {})


def test_a_lone_surrogate_in_a_job_name_is_exported_as_fffd_and_counted_once(
        simulator, make_exporter, clock):
    simulator.add_job("acct", SimJob("nb:jid:UUID:bad-name", "enc \ud800 job", T0 - 60,
                                     events=[(T0 - 50, JobState.Processing)]))
    simulator.add_job("acct", SimJob("nb:jid:UUID:fine", "fine", T0 - 60))
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")))
    first = scrape(exporter)
    assert first.value("ams_up", account="acct") == 1
    [labels] = first.find("ams_job_state_code", job_id="nb:jid:UUID:bad-name")
    assert dict(labels)["job_name"] == "enc \ufffd job"
    clock.advance(60)
    second = scrape(exporter)
    assert second.value("ams_up", account="acct") == 1
    assert second.value("ams_job_transitions_total", account="acct",
                        to_state="Processing") == 1
