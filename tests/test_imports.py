"""Imports run one way (docs/ARCHITECTURE.md) and never in a circle.

Every import in every first-party module counts, at module level or inside a function: a deferred import is
still a dependency. A package may import its own modules and packages of earlier layers only; between modules,
the graph must have no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The documented order, earliest first; a package may import only from its own layer's package or earlier ones.
LAYERS = [
    ["knowledge"], ["contract"], ["preview"], ["pipeline"], ["model"], ["calibration"], ["trt_build"],
    ["inference"], ["evaluation"], ["serve_app"], ["learning"], ["benchmarks"],
]
PACKAGE_DIRS = {name: ROOT / ("build/trt_build" if name == "trt_build" else name) for layer in LAYERS for name in layer}
LAYER_OF = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _module_name(package: str, path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIRS[package]).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join((package, *parts))


def imports_of(path: Path, module: str) -> set[str]:
    """First-party modules `path` imports (absolute names; relative imports resolved)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: -node.level] if path.name != "__init__.py" else module.split(".")[
                    : len(module.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in LAYER_OF}


def module_graph() -> dict[str, set[str]]:
    modules = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in folder.rglob("*.py"):
            if "tools" in path.relative_to(folder).parts[:-1] and package == "knowledge":
                continue  # one-off data builders, not part of the import graph of the service
            modules[_module_name(package, path)] = path
    graph = {}
    for module, path in modules.items():
        # `from pkg import name` names a module only where one exists; keep edges to real modules.
        targets = set()
        for name in imports_of(path, module):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def direction_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        layer = LAYER_OF[module.split(".")[0]]
        for target in targets:
            if LAYER_OF[target.split(".")[0]] > layer:
                bad.append(f"{module} imports {target} (a later layer)")
    return sorted(bad)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return module_graph()


def test_every_package_is_walked(graph):
    assert {m.split(".")[0] for m in graph} == set(LAYER_OF)
    assert len(graph) > 60


def test_imports_follow_the_documented_direction(graph):
    assert direction_violations(graph) == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_the_checks_catch_a_back_import_and_a_cycle(graph):
    # The same checks on the real graph plus one deliberate back-import (knowledge -> serve_app) and a circle.
    bent = {module: set(targets) for module, targets in graph.items()}
    bent["knowledge.colors"].add("serve_app.ingress")
    assert "knowledge.colors imports serve_app.ingress (a later layer)" in direction_violations(bent)
    bent["pipeline.answer"].add("pipeline.postprocess")  # postprocess already imports answer
    assert any(c[0] == "pipeline.answer" or "pipeline.answer" in c for c in cycles(bent))
