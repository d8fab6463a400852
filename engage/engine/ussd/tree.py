"""A saved menu as a tree, for the menu's page: from the first screen, every way on (a menu's
options, an input's answer, a router's branches, an action's outcomes) and the screen it leads to.

The screens of a menu form a graph, not a tree ("0" goes back anywhere, options lead home): each
screen is unfolded the first time the walk (depth first, in the document's order) meets it, and
where another way leads to it again it is shown as a reference to that place, not unfolded twice.
Screens the walk never meets (a saved menu has none; validation refuses them) come last."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engage.engine.ussd import document

TEXT_CHARS = 90  # of a screen's text shown beside it: the first line, shortened
OPS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "in": "in", "not_in": "not in",
       "set": "is set", "unset": "is not set"}


@dataclass(frozen=True)
class Node:
    """One line of the tree: how one gets here from the line above it (``way``; None for the first
    screen), and the screen it leads to."""

    depth: int
    way: str | None
    screen: str
    kind: str | None  # the screen's type; None for a screen the menu does not have
    text: str
    ends: bool  # showing it ends the session
    again: bool  # met before: shown unfolded further up


def outline(compiled: dict[str, Any]) -> list[Node]:
    """The tree of a compiled menu (document.compile_menu), line by line, depth first."""
    screens: dict[str, Any] = compiled.get("screens") or {}
    language = compiled.get("language") or "en"
    start = compiled.get("start") if compiled.get("start") in screens else next(iter(screens), None)
    out: list[Node] = []
    seen: set[str] = set()
    stack: list[tuple[int, str | None, str]] = [(0, "not reached from the first screen", sid)
                                                 for sid in reversed(screens) if sid != start]
    stack += [(0, None, start)] if start else []  # on top: walked first
    while stack:
        depth, way, sid = stack.pop()
        if depth == 0 and way and sid in seen:
            continue  # a screen listed as not reached that the walk reached after all
        screen = screens.get(sid)
        again = sid in seen
        out.append(Node(depth, way, sid, screen["type"] if screen else None,
                        _text(screen, language) if screen else "no such screen",
                        bool(screen) and document.ends(screen), again))
        if screen is None or again:
            continue
        seen.add(sid)
        stack += [(depth + 1, how, target) for how, target in reversed(ways(screen, language)) if target]
    return out


def ways(screen: dict[str, Any], language: str) -> list[tuple[str, str | None]]:
    """(how, next screen) for each way out of a compiled screen, in the document's order."""
    kind = screen["type"]
    if kind == "menu":
        return [(f"{i}. {_said(option.get('label'), language)}", option.get("next"))
                for i, option in enumerate(screen.get("options") or (), 1)]
    if kind == "input":
        rule = (screen.get("validate") or {}).get("kind", "text")
        kept = f", kept as {screen['save']}" if screen.get("save") else ""
        return [(f"answer ({rule}{kept})", screen.get("next"))]
    if kind == "text":
        return [("any answer", screen["next"])] if screen.get("next") else []
    otherwise = [("otherwise", screen["default"])] if screen.get("default") else []
    if kind == "router":
        return [*((f"if {condition(route.get('if'))}", route.get("next")) for route in screen.get("routes") or ()),
                *otherwise]
    if kind == "action":
        return [*((f"on {outcome}", target) for outcome, target in (screen.get("on") or {}).items()), *otherwise]
    return []


def condition(spec: dict[str, Any] | None) -> str:
    """A router's condition as people read it: the expression, or "field op value"."""
    if not spec:
        return "?"
    if "expr" in spec:
        return str(spec["expr"])
    op = spec.get("op", "eq")
    value = "" if op in ("set", "unset") else f" {spec.get('value')!r}"
    return f"{spec.get('field')} {OPS.get(op, op)}{value}"


def _text(screen: dict[str, Any], language: str) -> str:
    kind = screen["type"]
    if kind == "router":
        return "chooses the next screen by the conditions below"
    if kind == "action":
        return f"runs {screen.get('action')}"
    said = _said(screen.get("text"), language).strip().split("\n")[0]
    return said if len(said) <= TEXT_CHARS else said[:TEXT_CHARS - 1] + "…"


def _said(variants: dict[str, str] | None, language: str) -> str:
    """A text in the menu's language (its template source, not rendered: no subscriber here)."""
    if not variants:
        return ""
    return variants.get(language) or next(iter(variants.values()), "")
