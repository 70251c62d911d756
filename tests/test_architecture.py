"""The shape of the package: layers where every import goes down (import-linter, with
the contracts in pyproject.toml), no import cycles between modules, the simulator
apart, no `api ==` branching outside the backends, and a clean type check."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "exporter"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The exporter modules `path` imports at module level (TYPE_CHECKING blocks and
    imports inside functions are not part of the import-time graph)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules}


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: imports(path, modules) for name, path in paths.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


LINT_IMPORTS = ("import sys; from importlinter.cli import lint_imports; "
                "sys.exit(lint_imports(no_cache=True, no_logo=True))")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter with the contracts of `root`/pyproject.toml, on `root`'s package."""
    environ = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", LINT_IMPORTS], cwd=root, env=environ,
                          capture_output=True, text=True, timeout=300)


def test_the_layer_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_layer_contract(tmp_path):
    """The same contracts on a copy of the package where the job model (a low layer)
    imports the application's configuration (the top one)."""
    shutil.copytree(PACKAGE, tmp_path / "exporter",
                    ignore=shutil.ignore_patterns("__pycache__", "simulator"))
    (tmp_path / "exporter" / "simulator").mkdir()
    (tmp_path / "exporter" / "simulator" / "__init__.py").write_text("")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    model = tmp_path / "exporter" / "jobs" / "model.py"
    model.write_text(model.read_text() + "\nimport exporter.app.config  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "Packages are layers: every import goes down BROKEN" in result.stdout
    assert "exporter.jobs.model -> exporter.app.config" in result.stdout


def test_the_import_graph_has_no_cycle():
    edges = graph()
    assert len(edges) > 60
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_code_outside_the_backends_branches_on_the_api():
    pattern = re.compile(r"\bapi\s*[!=]=|==\s*['\"]v[23]['\"]")
    offenders = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
                 if not p.is_relative_to(PACKAGE / "backends")
                 and not p.is_relative_to(PACKAGE / "simulator")
                 and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_job_key_is_defined_once():
    definitions = [p for p in PACKAGE.rglob("*.py")
                   if re.search(r"^JobKey\s*=", p.read_text(encoding="utf-8"), re.M)]
    assert [p.relative_to(ROOT).as_posix() for p in definitions] == ["exporter/jobs/model.py"]


def test_mypy_reports_nothing():
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
