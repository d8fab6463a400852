"""One name per thing: a newcomer who finds a class, a module or a folder by its name finds the one
thing it names, and the README's layout is the tree as it is."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "engage"


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _packages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE.rglob("__init__.py") if "__pycache__" not in p.parts)


def _layout_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1]
    return section.split("```", 2)[1]


def test_no_two_classes_anywhere_in_engage_share_a_name():
    places: dict[str, list[str]] = defaultdict(list)
    for module in _modules():
        for node in ast.parse(module.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                places[node.name].append(str(module.relative_to(ROOT)))
    assert {name: where for name, where in places.items() if len(where) > 1} == {}


def test_no_product_module_is_named_like_a_test():
    assert [str(m.relative_to(ROOT)) for m in _modules() if m.name.startswith("test_")] == []


def test_every_package_holds_code_besides_its_init():
    empty = [str(p.relative_to(ROOT)) for p in _packages()
             if not [c for c in p.iterdir() if c.name != "__init__.py" and c.name != "__pycache__"
                     and (c.suffix == ".py" or (c / "__init__.py").exists())]]
    assert empty == []


def test_the_readme_layout_names_every_package_of_engage_and_of_its_engine():
    named = set(re.findall(r"(?m)^\s*((?:engage/)?(?:engine/)?[a-z_]+)/\s", _layout_block()))
    wanted = {p.name for p in _packages() if p.parent in (PACKAGE, PACKAGE / "engine")}
    listed = {n.rsplit("/", 1)[-1] for n in named}
    assert wanted - listed == set(), "packages the README's layout does not list"


def test_every_folder_the_readme_layout_names_exists():
    block = _layout_block()
    engine_rooms = re.findall(r"(?m)^  ([a-z_]+)/\s", block)
    top = re.findall(r"(?m)^engage/([a-z_]+)/\s", block)
    missing = [f"engage/engine/{n}" for n in engine_rooms if not (PACKAGE / "engine" / n).is_dir()]
    missing += [f"engage/{n}" for n in top if not (PACKAGE / n).is_dir()]
    assert missing == []
