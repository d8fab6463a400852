"""A segment definition is a JSON tree: {"and": [...]}, {"or": [...]}, {"not": {...}} groups of
criteria, each criterion an object with a "kind" (default "field"). This module owns the tree:
the groups and the registry of criterion kinds; the errors that say where in the tree a
criterion is wrong are in errors.py (SegmentError, imported from here by every kind), the bounds
every definition is held to before it is compiled in limits.py. Each kind lives in its own small
module under `segments/kinds/` and registers itself with `@criterion`, so a new kind is one new
file, and this module never grows with them. Values are always bound parameters, never pasted
into the SQL text."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_
from sqlalchemy.sql.elements import BooleanClauseList, Grouping

from engage.engine.segments import vocabulary
from engage.engine.segments.errors import SegmentError
from engage.engine.segments.limits import Budget

if TYPE_CHECKING:
    from engage.engine.usage.totals import Reader as UsageTotals


@dataclass(frozen=True)
class CompileContext:
    """What compiling needs besides the tree. `now` is fixed once per compile so that every
    relative date ("last 30 days", "birthday this week") is computed in Python from the same
    moment and bound as a constant, which keeps the SQL index-friendly and tests deterministic."""

    now: datetime  # timezone-aware; "today" = now.date()
    load_segment: Callable[[int], dict[str, Any] | None] | None = None  # for in_segment
    stack: tuple[int, ...] = ()  # saved segment ids being compiled, for cycle detection
    usage: UsageTotals | None = None  # usage totals through the compile's connection, for usage criteria
    budget: Budget | None = None  # what the tree and the segments it includes have used of the limits
    depth: int = 0  # where a definition compiled by a criterion (in_segment) sits in the whole tree
    masked: bool = False  # the asker is shown numbers masked: no criterion may test more (segments.masked_numbers)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("CompileContext.now must be timezone-aware")


@dataclass(frozen=True)
class Param:
    """One parameter of a criterion kind, as shown to the UI and checked for typos. `label` names its
    control in the builder, `options` are the values it takes with the words the builder shows for
    them (a select instead of free text), `ask` says what to enter when it is missing or wrong."""

    name: str
    type: str  # "integer", "number", "string", "boolean", "list[string]", "date", "operator", ...
    description: str
    required: bool = True
    default: Any = None  # what an absent optional parameter means (the builder starts a control there)
    label: str = ""
    options: tuple[tuple[Any, str], ...] = ()
    ask: str = ""

    def request(self) -> str:
        """What to do when the parameter is missing or wrong, in the marketer's words."""
        if self.ask:
            return self.ask
        if self.options:
            return f"choose {vocabulary.join_or([words for _, words in self.options])}"
        return _ASKS.get(self.type, f"enter {self.label or self.name}")


_ASKS = {"integer": "enter a whole number", "number": "enter a number", "boolean": "choose yes or no",
         "list[string]": "enter one or more values, separated by commas", "field": "choose a field",
         "operator": "choose a comparison"}


CriterionFn = Callable[[dict[str, Any], str, CompileContext], ColumnElement[bool]]


@dataclass(frozen=True)
class Kind:
    name: str
    compile: CriterionFn
    description: str
    params: tuple[Param, ...]
    details: Callable[[], dict[str, Any]] | None = field(default=None)
    label: str = ""  # the kind as the builder offers it ("Age", "Network usage")
    title: Callable[[dict[str, Any]], str | None] | None = None  # a criterion's own name ("City"), if it has one

    def name_of(self, node: dict[str, Any]) -> str:
        """What a criterion of this kind is called in errors and summaries."""
        return (self.title(node) if self.title else None) or self.label or vocabulary.tidy(self.name)


KINDS: dict[str, Kind] = {}
# keys any criterion may carry for the editor's own use; everything else must be a declared param
FREE_KEYS = frozenset({"kind", "label", "comment"})
KINDS_PACKAGE = "engage.engine.segments.kinds"


def criterion(name: str, *, label: str = "", params: tuple[Param, ...] = (),
              details: Callable[[], dict[str, Any]] | None = None,
              title: Callable[[dict[str, Any]], str | None] | None = None) -> Callable[[CriterionFn], CriterionFn]:
    """Register a criterion kind; its docstring's first line is its description for the UI, `label`
    the words the builder offers it by."""

    def register(fn: CriterionFn) -> CriterionFn:
        doc = (fn.__doc__ or name).strip().splitlines()[0]
        KINDS[name] = Kind(name, fn, doc, params, details, label, title)
        return fn

    return register


def registry() -> dict[str, Kind]:
    """Every kind: importing the kinds package registers them (once; Python caches the import)."""
    importlib.import_module(KINDS_PACKAGE)
    return KINDS


def compile_node(node: Any, path: str = "segment", ctx: CompileContext | None = None) -> ColumnElement[bool]:
    """A definition (a tree of groups and criteria) -> one boolean SQL expression over the
    subscribers table, once it is within the limits (engine.segments.limits), which a segment that
    in_segment includes shares with the tree including it."""
    ctx = ctx or CompileContext(now=datetime.now(UTC))
    if ctx.budget is None:
        ctx = replace(ctx, budget=Budget())
    assert ctx.budget is not None
    ctx.budget.admit(node, path, ctx.depth)
    return _compile(node, path, ctx, ctx.depth)


def _compile(node: Any, path: str, ctx: CompileContext, depth: int) -> ColumnElement[bool]:
    """The tree below the admitted definition; `depth` is the node's level in the whole tree.

    "not" means "does not match", including subscribers for whom the criterion is unknown (a
    NULL city is "not Tashkent"), which is what people building audiences expect; SQL's own NOT
    would drop them."""
    if not isinstance(node, dict):
        got = "nothing (null)" if node is None else type(node).__name__
        raise SegmentError(path, f"expected an object, got {got}", hint="choose a criterion or remove it")
    for group, combine in (("and", and_), ("or", or_)):
        if group in node:
            _only(node, {group}, path)
            children = node[group]
            if not isinstance(children, list) or not children:
                raise SegmentError(path, f"{group!r} needs a non-empty list")
            return combine(*(_compile(c, f"{path}.{group}[{i}]", ctx, depth + 1) for i, c in enumerate(children)))
    if "not" in node:
        _only(node, {"not"}, path)
        return not_(func.coalesce(_compile(node["not"], f"{path}.not", ctx, depth + 1), false()))
    name = node.get("kind", "field")
    kind = registry().get(name) if isinstance(name, str) else None
    if kind is None:
        raise SegmentError(path, f"unknown criterion kind {name!r}; known: {', '.join(sorted(KINDS))}",
                           hint="choose a kind of criterion")
    try:
        _only(node, {p.name for p in kind.params}, path, kind.name)
        compiled = kind.compile(node, path, replace(ctx, depth=depth + 1))
    except SegmentError as exc:
        if exc.path == path and exc.criterion is None:
            _name_criterion(exc, kind, node)
        raise
    return Term(compiled) if isinstance(compiled, BooleanClauseList) else compiled


def _name_criterion(exc: SegmentError, kind: Kind, node: dict[str, Any]) -> None:
    """The error of a criterion said as the builder shows it: the criterion's name, and, when the
    kind said only which parameter is wrong, that parameter's own request."""
    exc.criterion = kind.name_of(node)
    if exc.hint is None and exc.param is not None:
        param = next((p for p in kind.params if p.name == exc.param), None)
        if param is not None:
            exc.hint = param.request()


class Term(Grouping):
    """A criterion's own AND/OR (a prefix per list item), kept one parenthesised term of its group.
    SQLAlchemy flattens an OR within an OR into one chain, and SQLite parses a chain as deep as it is
    long (1,000 at most): eight lists of 500 prefixes in an "or" were a chain of 4,000. A Grouping
    without the `operator` it would otherwise lend from its element is not flattened."""

    operator = None
    inherit_cache = True


def _only(node: dict[str, Any], allowed: set[str], path: str, kind: str | None = None) -> None:
    """A misspelt parameter ("dayz") would otherwise be ignored silently and select the wrong people."""
    unknown = sorted(set(node) - allowed - FREE_KEYS - ({"kind"} if kind else set()))
    if unknown:
        where = f" for kind {kind!r}" if kind else " in a group"
        known = f"; known: {', '.join(sorted(allowed))}" if kind else ""
        raise SegmentError(path, f"unknown parameter {unknown[0]!r}{where}{known}")


def describe_kinds() -> list[dict[str, Any]]:
    """Every criterion kind for the UI and the API: name, label, one-line description, parameters
    (each with its label, what to enter, and the options it takes with their words), and kind-specific
    details (for "field": each field with its label, type, allowed operators and their words)."""
    out = []
    for kind in sorted(registry().values(), key=lambda k: k.name):
        entry: dict[str, Any] = {
            "kind": kind.name, "label": kind.label or vocabulary.tidy(kind.name), "description": kind.description,
            "params": [_described(p) for p in kind.params],
        }
        if kind.details is not None:
            entry.update(kind.details())
        out.append(entry)
    return out


def _described(p: Param) -> dict[str, Any]:
    described = {"name": p.name, "type": p.type, "required": p.required, "description": p.description,
                 "default": p.default, "label": p.label or vocabulary.tidy(p.name), "ask": p.request()}
    if p.options:
        described["options"] = [{"value": value, "label": words} for value, words in p.options]
    return described
