"""The monitoring mixin (grafana/mixin) as the tests compile it: through
scripts/build-mixin's own functions, so a test's rule file is written exactly as the
shipped one, only with another _config."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import shutil
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.helpers import ROOT
from tests.helpers.monitoring import RULE_TESTS, RULES

BUILD_SCRIPT = ROOT / "scripts" / "build-mixin"


@cache
def build_mixin() -> ModuleType:
    """scripts/build-mixin as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("build_mixin", str(BUILD_SCRIPT))
    spec = importlib.util.spec_from_loader("build_mixin", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def defaults() -> dict[str, Any]:
    """The mixin's _config as it ships."""
    config: dict[str, Any] = build_mixin().evaluate(ROOT, fields=("_config",))["_config"]
    return config


def rule_file(config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The rule file (parsed) the mixin gives with `config` merged into its _config."""
    build = build_mixin()
    mixin = build.evaluate(ROOT, config, fields=("prometheusRules", "prometheusAlerts"))
    result: dict[str, Any] = build.rule_file(mixin)
    return result


def rule_file_text(config: dict[str, Any] | None = None) -> str:
    """The same as the YAML text scripts/build-mixin writes."""
    build = build_mixin()
    text: str = build.to_yaml(rule_file(config), build.HEADER)
    return text


def dashboards(config: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    boards: dict[str, dict[str, Any]] = build_mixin().evaluate(
        ROOT, config, fields=("grafanaDashboards",))["grafanaDashboards"]
    return boards


def rules_with_unit_tests(tmp_path: Path, config: dict[str, Any]) -> tuple[Path, Path]:
    """The rule file compiled with `config` in tmp_path, and a copy of the promtool unit
    tests beside it (they load ../ams-jobs.rules.yaml): (rules, unit tests)."""
    rules = tmp_path / RULES.name
    rules.write_text(rule_file_text(config))
    (tmp_path / "tests").mkdir(exist_ok=True)
    tests = tmp_path / "tests" / RULE_TESTS.name
    shutil.copy(RULE_TESTS, tests)
    return rules, tests


def alerts_of(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]
            if "alert" in rule}


def records_of(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["record"]: rule for group in rules["groups"] for rule in group["rules"]
            if "record" in rule}
