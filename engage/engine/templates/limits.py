"""The limits of one render, and the means that keep a template inside them.

Anyone who can preview a template writes code that the web process runs, and a saved template runs
once per recipient in dispatch; `{{ 'x' * 10**9 }}` is a few characters. So every value a render
builds is small (text at most MAX_TEXT characters, containers holding at most that much, numbers at
most MAX_DIGITS digits), checked *before* an operation that could build a bigger one runs; every
render writes at most MAX_TEXT characters and takes at most MAX_STEPS steps (loop rounds, calls,
intercepted operations, outputs) and MAX_SECONDS. A message is a few parts of 153 characters: the
limits are far above any real text and far below what hurts a process. The time is the CPU time of
the render's own thread: a render waiting for the GIL or a busy host is not the template's fault.
Filters and tests are steps too, and the ones whose work grows faster than their input (wordwrap
is quadratic) take at most MAX_FILTER_TEXT characters. Decimals are computed in DECIMALS, whose
exponents stop at MAX_DIGITS: libmpdec would build a million-digit number holding the GIL.

A template's own text is at most MAX_BODY characters, nested at most MAX_NESTING deep, and a saved
template has at most MAX_ARMS arms and MAX_VARIANTS variants: compiling is not bounded by steps.

The render's own tally lives on its context (BudgetedContext); loops and `~` reach it through
calls that `bound` writes into the parsed template, so the checks cost a little per loop round and
per output, and nothing per recipient whose text the render cache already has.
"""

from __future__ import annotations

import decimal
import gc
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.runtime import Context, Namespace
from jinja2.visitor import NodeTransformer

MAX_TEXT = 65_536  # characters: any text a render builds, what a container holds, the output
MAX_DIGITS = 1_000  # digits of a whole number
MAX_STEPS = 20_000  # loop rounds, calls, intercepted operations and outputs of one render
MAX_SECONDS = 0.5  # CPU time of one render's thread
MAX_FILTER_TEXT = 10_000  # characters a costly filter (_COSTLY in sandbox.py) takes
MAX_BODY = 5_000  # characters of a template's text: a message is a few parts
MAX_NESTING = 20  # brackets and blocks inside each other
MAX_ARMS = 10  # arms of a template
MAX_VARIANTS = 50  # variants of a template, all arms together
MAX_ITEMS = 10_000  # numbers of a range(), items of a batch or slice
MAX_BITS = MAX_DIGITS * 3322 // 1000  # bits of a MAX_DIGITS-digit number

TOO_LONG = f"text over {MAX_TEXT:,} characters"
TOO_BIG = f"number over {MAX_DIGITS:,} digits"
NOT_TEXT = "is not available in message templates (a message is text)"
# Decimal arithmetic in a render: past MAX_DIGITS digits an overflow (the number limit), below it zero
DECIMALS = decimal.Context(prec=28, Emax=MAX_DIGITS, Emin=-MAX_DIGITS,
                           traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


class LimitExceeded(Exception):
    """Raised inside a render that would pass a limit; the renderer reports it with the template line."""


def too_long() -> LimitExceeded:
    return LimitExceeded(TOO_LONG)


def too_big() -> LimitExceeded:
    return LimitExceeded(TOO_BIG)


_collections = threading.local()  # this thread's time in Python's cycle collector


def _collector_timer(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _collections.started = time.thread_time()
    elif hasattr(_collections, "started"):
        _collections.spent = getattr(_collections, "spent", 0.0) + time.thread_time() - _collections.started


gc.callbacks.append(_collector_timer)


def render_clock() -> float:
    """The thread's CPU time less what the cycle collector took in it: a collection of the whole
    process's garbage (a second, in a large one) is not the template's doing, and must not fail it."""
    return time.thread_time() - getattr(_collections, "spent", 0.0)


class RenderOutOfTime(LimitExceeded):
    """A render past MAX_SECONDS: unlike the other limits, it may pass another time (a shared CPU)."""


class BudgetedContext(Context):
    """A render's context, carrying what the render may still spend."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps = MAX_STEPS
        self.room = MAX_TEXT  # characters it may still write
        self.deadline = render_clock() + MAX_SECONDS


def step(context: Context) -> None:
    """One step of work; past the step budget or the render's time, the render stops."""
    budget: Any = context
    budget.steps -= 1
    if budget.steps < 0 or render_clock() > budget.deadline:
        raise _spent(budget)


def _spent(budget: Any) -> LimitExceeded:
    if budget.room < 0:
        return too_long()
    if budget.steps < 0:
        return LimitExceeded(f"over {MAX_STEPS:,} steps of work")
    return RenderOutOfTime(f"rendering took over {MAX_SECONDS} s")


def write(context: Context, characters: int) -> None:
    """Characters written (to the output, or to a block or macro whose text is kept)."""
    budget: Any = context
    budget.room -= characters
    budget.steps -= 1
    if budget.room < 0:
        raise too_long()
    if budget.steps < 0 or render_clock() > budget.deadline:
        raise _spent(budget)


# --- sizes ---------------------------------------------------------------------------------------

_TEXTS = (str, bytes)
_BYTES = (bytes, bytearray)
_CONTAINERS = (list, tuple, dict, set, frozenset)
_MEASURED = (*_TEXTS, *_CONTAINERS, Namespace)


def size(value: Any) -> int:
    """About how many characters ``value`` is as text (a container: what it holds, with its commas and
    quotes); raises LimitExceeded as soon as that passes MAX_TEXT, so that measuring is cheap too.
    A container held several times counts each time: that is how it would print."""
    return _size(value, {})


def _size(value: Any, seen: dict[int, int]) -> int:
    if isinstance(value, _TEXTS):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 1
    if isinstance(value, Namespace):
        value = value._Namespace__attrs  # type: ignore[attr-defined]  # what it prints
    if isinstance(value, range):
        return len(value) * 7
    if not isinstance(value, _CONTAINERS):
        return 8
    key = id(value)
    known = seen.get(key)
    if known is not None:
        return known
    total = 2
    for item in (value.items() if isinstance(value, dict) else value):
        total += _size(item, seen) + 2
        if total > MAX_TEXT:
            raise too_long()
    seen[key] = total
    return total


def checked(value: Any) -> Any:
    """``value``, if it is within the limits on text and numbers."""
    kind = type(value)
    if kind is str:
        if len(value) > MAX_TEXT:
            raise too_long()
    elif kind is int:
        if value.bit_length() > MAX_BITS:
            raise too_big()
    elif kind is decimal.Decimal:
        if value.is_finite() and value.adjusted() >= MAX_DIGITS:
            raise too_big()
    elif isinstance(value, _BYTES):
        raise LimitExceeded(f"bytes ({kind.__name__}) {NOT_TEXT}")
    elif isinstance(value, _MEASURED) and size(value) > MAX_TEXT:
        raise too_long()
    return value


def text_of(value: Any) -> str:
    """``str(value)``, measured before it is made."""
    if type(value) is str:
        return checked(value)
    size(value)
    return checked(str(value))


# --- what `bound` writes into a template ---------------------------------------------------------

@pass_context
def rounds(context: Context, iterable: Iterable[Any], data: int) -> Iterator[Any]:
    """A loop's items, each round a step that writes the loop body's ``data`` characters of text."""
    budget: Any = context
    clock = render_clock
    for item in iterable:
        budget.steps -= 1
        budget.room -= data
        if budget.steps < 0 or budget.room < 0 or clock() > budget.deadline:
            raise _spent(budget)
        yield item


def concat(*values: Any) -> str:
    """``a ~ b``, measured before it is joined."""
    texts = [text_of(v) for v in values]
    if sum(map(len, texts)) > MAX_TEXT:
        raise too_long()
    return "".join(texts)


def made(value: Any) -> Any:
    """A list, tuple or dict the template writes out ([a, a, a]), checked as it is made."""
    return checked(value)


class _Bounder(NodeTransformer):
    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _call("rounds", [node.iter, nodes.Const(_data(node.body))], node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _call("concat", node.nodes, node)

    def visit_List(self, node: nodes.Node) -> nodes.Node:
        self.generic_visit(node)
        return node if _constant(node) else _call("made", [node], node)

    visit_Dict = visit_List  # noqa: N815

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        if node.ctx != "load":  # a target: {% for a, b in ... %}
            return node
        return self.visit_List(node)


def bound(tree: nodes.Template) -> nodes.Template:
    """The parsed template with its loops counted, its `~` measured and its literal containers
    checked (the rest is checked by the sandbox: sandbox.py)."""
    environment = tree.environment
    _Bounder().visit(tree)
    tree.set_environment(environment)
    return tree


def _call(name: str, args: list[nodes.Expr], at: nodes.Node) -> nodes.Call:
    call = nodes.Call(nodes.ImportedName(f"{__name__}.{name}"), list(args), [], None, None)
    return call.set_lineno(at.lineno)


def _data(body: list[nodes.Node]) -> int:
    """Characters of plain text a loop body writes per round (not counting its inner loops, which
    count their own, nor macros it defines, which count when called)."""
    total = 0
    for node in body:
        if isinstance(node, nodes.TemplateData):
            total += len(node.data)
        elif not isinstance(node, nodes.For | nodes.Macro):
            total += _data(list(node.iter_child_nodes()))
    return total


def _constant(node: nodes.Node) -> bool:
    try:
        node.as_const(nodes.EvalContext(node.environment))
    except Exception:  # Impossible, or a literal that cannot be made
        return False
    return True
