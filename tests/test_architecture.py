"""The shape of the house: imports run one way, modules and functions stay small.

The import graph is read from the source (AST), imports inside functions
included and ``if TYPE_CHECKING:`` blocks excluded (they never run). Floors,
from the top down::

    entry      ratecalc.__main__, cli, wsgi
    commands   ratecalc.commands, shop.cli, alerts.cli, sandbox
    app        ratecalc.app.*         (the Flask app, ops endpoints, service wiring)
    ui         ratecalc.ui.*          (web pages for people; the app registers them)
    shop       ratecalc.shop.*        (may use rating)
               ratecalc.alerts.*      (beside shop: neither imports the other)
    rating     ratecalc.rating.*      (knows nothing of shop)
    upstream   ratecalc.upstream.*    and web (HTTP helpers); neither imports the other
    ground     settings, setting_parsers, secrets, logs, metrics, model, units, bounds, status_map,
               console, redis_guard

A module may import its own room or a lower floor, never a higher one; the
simulators import nothing of ratecalc outside ``ratecalc.simulators``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ratecalc"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Data tables of the simulators are the one exception to the size limits.
SIZE_EXCEPTIONS = {"ratecalc.simulators.cin7.data"}

FLOORS = [  # (room prefix, floor); the longest matching prefix wins
    ("ratecalc.__main__", -1), ("ratecalc.cli", 0), ("ratecalc.wsgi", 0),
    ("ratecalc.commands", 1), ("ratecalc.shop.cli", 1), ("ratecalc.sandbox", 1),
    ("ratecalc.alerts.cli", 1),
    ("ratecalc.app", 2),
    ("ratecalc.ui", 2.5),  # web pages: registered by the app factory, drive shop and rating
    ("ratecalc.shop", 3), ("ratecalc.alerts", 3),
    ("ratecalc.rating", 4),
    ("ratecalc.upstream", 5), ("ratecalc.web", 5),
    ("ratecalc.settings", 6), ("ratecalc.setting_parsers", 6),
    ("ratecalc.secrets", 6), ("ratecalc.logs", 6),
    ("ratecalc.metrics", 6), ("ratecalc.model", 6), ("ratecalc.units", 6),
    ("ratecalc.console", 6), ("ratecalc.bounds", 6), ("ratecalc.status_map", 6),
    ("ratecalc.redis_guard", 6), ("ratecalc", 6),
    ("ratecalc.simulators", 7),
]
GROUND = 6


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """Every ratecalc module ``name`` imports at run time."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported(name, path, known) for name, path in found.items()}


def floor(name: str) -> tuple[str, int]:
    room, level = max(((p, f) for p, f in FLOORS if name == p or name.startswith(p + ".")),
                      key=lambda pf: len(pf[0]))
    return room, level


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return out


def test_no_import_circles():
    assert circles(graph()) == []


def test_the_circle_finder_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_run_down_only():
    upward = []
    for importer, targets in graph().items():
        room, level = floor(importer)
        for target in targets:
            target_room, target_level = floor(target)
            if room.startswith("ratecalc.simulators"):
                ok = target_room.startswith("ratecalc.simulators")
            elif target_room.startswith("ratecalc.simulators"):
                ok = level <= 1  # only the sandbox (and the CLI) start simulators
            elif target_level == level:
                ok = target_room == room or level == GROUND
            else:
                ok = target_level > level
            if not ok:
                upward.append(f"{importer} -> {target}")
    assert upward == []


def test_every_module_has_a_floor():
    assert [name for name in modules() if name != "ratecalc" and
            not any(name == p or name.startswith(p + ".") for p, _ in FLOORS)] == []


def test_no_product_module_is_too_long():
    long = {name: len(path.read_text().splitlines()) for name, path in modules().items()
            if name not in SIZE_EXCEPTIONS}
    assert {n: lines for n, lines in long.items() if lines > MAX_MODULE_LINES} == {}


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


@pytest.mark.parametrize("name", sorted(n for n in modules() if n not in SIZE_EXCEPTIONS))
def test_no_function_is_too_long(name):
    path = modules()[name]
    tree = ast.parse(path.read_text())
    too_long = {f"{f.name} (line {f.lineno})": f.end_lineno - f.lineno + 1
                for f in _functions(tree) if f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES}
    assert too_long == {}
