"""The shape of the package: no import cycles, the simulator apart from the
runtime, no `api ==` branching outside the backends, and a clean type check."""

from __future__ import annotations

import ast
import re
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


def test_the_import_graph_has_no_cycle():
    edges = graph()
    assert len(edges) > 60
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_simulator_imports_only_shared_names_from_the_exporter():
    for name, targets in graph().items():
        if name.startswith("exporter.simulator"):
            outside = {t for t in targets if not t.startswith("exporter.simulator")}
            assert outside <= {"exporter.jobs.states"}, (name, outside)


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
