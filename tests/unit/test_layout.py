"""The house's layout, checked (issue 14): the root holds only the design card's files, every module
lives in a room, imports run one way (downward, no cycle), no module passes 400 lines, and the
mutation run (setup.cfg [mutmut]) knows every module."""
from __future__ import annotations

import ast
import configparser
import subprocess
from pathlib import Path

import pytest

from harness import ROOT

pytestmark = pytest.mark.in_process

ROOT_FILES = {"main.py", "slack_client.py", "prompts.py"}  # the design card's Python files at the root
# DESIGN.md: transports → (runtime) → interactions, handoff → answering → (usage) → model → knowledge → slack,
# state → config, logs. A module may import its own room or any room below it; prompts.py is data, for anyone.
RANK = {"main": 0, "launch": 0, "transports": 1, "runtime": 2, "interactions": 3, "handoff": 3, "answering": 4,
        "usage": 4.5, "model": 5, "knowledge": 6, "slack": 7, "state": 7, "config": 8, "logs": 8, "prompts": 9}


def _tracked_python() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [name for name in listed.stdout.split() if (ROOT / name).exists()]


def _product_modules() -> dict[str, Path]:
    modules = {path.stem: ROOT / path for path in map(Path, ROOT_FILES)}
    for path in (ROOT / "threadwise").rglob("*.py"):
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[dotted.removesuffix(".__init__")] = path
    return modules


def _room(module: str) -> str:
    if module == "slack_client":
        return "slack"  # the design card keeps it at the root; it is the Slack edge's user
    parts = module.split(".")
    return parts[1] if parts[0] == "threadwise" and len(parts) > 1 else parts[0]


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module ``path`` imports, at the top or inside a function (a lazy import is an import)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules}


def test_the_root_holds_only_the_design_cards_modules():
    at_root = {name for name in _tracked_python() if "/" not in name}
    assert at_root == ROOT_FILES


def test_every_room_is_one_the_design_names():
    rooms = {_room(module) for module in _product_modules()} - {"threadwise"}
    assert rooms <= set(RANK), rooms - set(RANK)


def test_imports_run_downward_and_never_in_a_circle():
    modules = _product_modules()
    graph = {module: _imports(path, modules) - {module} for module, path in modules.items()}
    upward = [f"{module} → {target}" for module, targets in graph.items() for target in targets
              if RANK[_room(target)] < RANK[_room(module)]
              or (_room(target) != _room(module) and RANK[_room(target)] == RANK[_room(module)])]
    assert upward == [], "imports against the rooms' order:\n" + "\n".join(sorted(upward))

    visiting, done, cycles = set(), set(), []

    def visit(module: str, path: list[str]) -> None:
        if module in visiting:
            cycles.append(" → ".join(path[path.index(module):] + [module]))
            return
        if module in done:
            return
        visiting.add(module)
        for target in sorted(graph[module]):
            visit(target, path + [module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


def test_no_module_passes_400_lines():
    long = {name: lines for name in _tracked_python()
            if (lines := len((ROOT / name).read_text().splitlines())) > 400}
    assert long == {}


def test_the_mutation_run_knows_every_module():
    """./scripts/mutants runs the tests from a copy holding only what setup.cfg names."""
    section = configparser.ConfigParser()
    section.read(ROOT / "setup.cfg")
    listed = set()
    for key in ("source_paths", "also_copy"):
        listed |= {line.strip() for line in section["mutmut"][key].splitlines() if line.strip()}
    modules = {str(path.relative_to(ROOT)) for path in _product_modules().values()}
    assert modules - listed == set()
    assert {name for name in listed if name.endswith(".py")} - modules == set(), "listed but gone"
