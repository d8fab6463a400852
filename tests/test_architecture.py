"""The engine's rooms depend on each other one way: no package of engage/engine imports, however
indirectly, one that imports it back. A cycle means two rooms are one tangle (neither can be read,
tested or moved alone), so a new one fails here, named with the modules that make each step of it.

The graph is read from the source with ast: every import counts, at the top of a module or inside a
function, since an import hidden in a function is the same dependency, only later."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engage" / "engine"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str | None = None) -> set[str]:
    """Every module ``path`` (the module ``name``) imports, anywhere in it, as absolute dotted
    names (``from a import b`` counts as a, and as a.b when b is a module)."""
    name = name or _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names if _is_module(f"{module}.{alias.name}"))
    return found


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def room(module: str) -> str | None:
    """The node of the graph a module belongs to: its package directly under engage/engine, or the
    top-level engine module itself; None outside the engine."""
    parts = module.split(".")
    if parts[:2] != ["engage", "engine"] or len(parts) < 3:
        return None
    return parts[2]


def engine_graph() -> dict[str, dict[str, list[str]]]:
    """room -> room it imports -> the imports that make that edge ("module -> imported")."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(ENGINE.rglob("*.py")):
        source = _module_name(path)
        here = room(source)
        for target in sorted(imported_modules(path)):
            there = room(target)
            if here and there and there != here and (there in _rooms()):
                graph[here][there].append(f"{source} -> {target}")
    return graph


def _rooms() -> set[str]:
    return {p.name for p in ENGINE.iterdir() if (p / "__init__.py").exists()} | {
        p.stem for p in ENGINE.glob("*.py") if p.name != "__init__.py"}


def tangles(graph: dict[str, dict[str, list[str]]]) -> list[set[str]]:
    """The groups of rooms that reach each other through imports (Tarjan's strongly connected
    components of more than one room)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, {})):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def shortest_cycle(graph: dict[str, dict[str, list[str]]], group: set[str]) -> list[str]:
    """The shortest way from the group's first room back to itself, staying in the group: the
    rooms in order, the first repeated at the end."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, {})):
                if nxt == start:
                    return paths[node] + [start]
                if nxt in group and nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")


def described(graph: dict[str, dict[str, list[str]]], group: set[str]) -> str:
    """The tangle as one cycle, then every import between its rooms (any of them may be the one to move)."""
    steps = [f"    {a} -> {b}: {'; '.join(graph[a][b])}" for a in sorted(group) for b in sorted(graph.get(a, {}))
             if b in group]
    return " -> ".join(shortest_cycle(graph, group)) + "\n" + "\n".join(steps)


def test_no_two_rooms_of_the_engine_import_each_other_even_indirectly():
    graph = engine_graph()
    found = tangles(graph)
    assert not found, "import cycles between the engine's packages:\n" + "\n".join(
        described(graph, group) for group in found)


def test_a_cycle_is_found_and_named_with_the_imports_that_make_it():
    graph = {"a": {"b": ["engage.engine.a.x -> engage.engine.b.y"]},
             "b": {"c": ["engage.engine.b.y -> engage.engine.c"], "a": ["engage.engine.b -> engage.engine.a"]},
             "c": {"a": ["engage.engine.c -> engage.engine.a.x"]},
             "d": {"a": ["engage.engine.d -> engage.engine.a"]}}
    [group] = tangles(graph)
    assert group == {"a", "b", "c"}
    text = described(graph, group)
    assert text.startswith("a -> b -> a\n")
    assert "b -> c: engage.engine.b.y -> engage.engine.c" in text and "d ->" not in text


def test_an_import_inside_a_function_is_a_dependency_like_any_other(tmp_path):
    path = tmp_path / "later.py"
    path.write_text("def later():\n    from engage.engine.campaigns import records\n", encoding="utf-8")
    found = imported_modules(path, "engage.engine.metrics")
    assert found == {"engage.engine.campaigns", "engage.engine.campaigns.records"}
    assert room("engage.engine.campaigns.records") == "campaigns" and room("engage.engine.metrics") == "metrics"


def test_a_relative_import_counts_as_the_module_it_names(tmp_path):
    path = tmp_path / "sweeper.py"
    path.write_text("from ..receipts import matching\nfrom .dispatch import Dispatcher\n", encoding="utf-8")
    found = imported_modules(path, "engage.engine.delivery.sweeper")
    assert found == {"engage.engine.receipts", "engage.engine.receipts.matching", "engage.engine.delivery.dispatch"}


def test_the_engine_imports_nothing_of_the_shells_around_it():
    shells = ("engage.web", "engage.workers", "engage.cli", "engage.bench", "engage.simulators")
    wrong = sorted(f"{_module_name(path)} -> {target}" for path in ENGINE.rglob("*.py")
                   for target in imported_modules(path) if target.startswith(shells))
    assert wrong == []


# -- web/ builds no queries of its own: its reads and writes go through engine functions -----------------------------

WEB = ROOT / "engage" / "web"
SQLALCHEMY_FOR_TYPES = {"Engine", "Connection"}  # what web may name from sqlalchemy: types of what it passes on
TABLE_MODULES = ("engage.engine.store.schema", "engage.engine.store.bulk")
RUNS_SQL = {"execute", "exec_driver_sql", "scalar", "scalars"}


def web_query_building(path: Path) -> list[str]:
    """What in ``path`` builds or runs a query: a query builder or a table imported, a statement executed."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] == "sqlalchemy"
                      or a.name.startswith(TABLE_MODULES)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "sqlalchemy":
                found += [f"from {node.module} import {a.name}" for a in node.names
                          if node.module != "sqlalchemy" or a.name not in SQLALCHEMY_FOR_TYPES]
            elif node.module.startswith(TABLE_MODULES):
                found += [f"from {node.module} import {a.name}" for a in node.names]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RUNS_SQL:
            found.append(f"line {node.lineno}: .{node.func.attr}(...)")
    return found


def test_the_web_builds_no_queries_and_names_no_tables():
    wrong = {str(path.relative_to(ROOT)): found for path in sorted(WEB.rglob("*.py"))
             if (found := web_query_building(path))}
    assert wrong == {}, "move these queries into engine functions of the package that owns the data"


def test_a_query_in_the_web_is_found(tmp_path):
    path = tmp_path / "page.py"
    path.write_text("from sqlalchemy import Engine, select\nfrom engage.engine.store.schema import Campaign\n"
                    "def names(conn):\n    return conn.execute(select(Campaign.name)).scalars()\n", encoding="utf-8")
    assert sorted(web_query_building(path)) == ["from engage.engine.store.schema import Campaign",
                                                "from sqlalchemy import select", "line 4: .execute(...)",
                                                "line 4: .scalars(...)"]
