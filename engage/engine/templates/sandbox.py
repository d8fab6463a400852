"""The Jinja2 sandbox message templates render in: immutable (a template changes nothing it is given),
and bounded (limits.py): every operation, call, method and filter that could build a text, a
container or a number past the limits is measured before it runs, and charged to the render.

Only what can grow is checked before it runs (`*`, `**`, `+`, `%`, str.format, padding, replace,
join, translate, the filters that pad, wrap, indent, repeat or join); everything else is checked on
its result, which a bounded input keeps bounded. Every filter and test is a step of the render
(charge_calls), and the costly ones take a bounded input. Bytes are not text: a message has no use
for them, so encode, decode, to_bytes and from_bytes are not there.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import update_wrapper, wraps
from typing import Any

from jinja2 import pass_context, pass_eval_context
from jinja2.defaults import DEFAULT_FILTERS
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import _PassArg, generate_lorem_ipsum
from markupsafe import Markup

from engage.engine.templates.limits import (
    MAX_BITS,
    MAX_FILTER_TEXT,
    MAX_ITEMS,
    MAX_TEXT,
    BudgetedContext,
    LimitExceeded,
    checked,
    size,
    step,
    text_of,
    too_big,
    too_long,
)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with every render inside the limits of limits.py."""

    context_class = BudgetedContext
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    bytes_methods = frozenset({"encode", "decode", "to_bytes", "from_bytes"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = bounded_range
        self.globals["lipsum"] = bounded_lipsum
        for name, guard in _FILTER_GUARDS.items():
            self.filters[name] = _guarded(DEFAULT_FILTERS[name], guard)
        for name in _FILTERS_CHECKED_AFTER:
            self.filters[name] = _guarded(DEFAULT_FILTERS[name], None)
        self.filters["join"] = _join_filter

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return attr not in self.bytes_methods and super().is_safe_attribute(obj, attr, value)

    def charge_calls(self) -> BoundedSandbox:
        """The sandbox with every filter and test it has now a step of the render (Jinja's compiled
        code calls them directly, past `call`), the costly ones refusing an input over
        MAX_FILTER_TEXT. Called once all filters are in: those added later would not count."""
        for table in (self.filters, self.tests):
            for name, function in table.items():
                if not getattr(function, "engage_charged", False):
                    table[name] = _charged(name, function)
        return self

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        step(context)
        _BINOP_GUARDS[operator](left, right)
        return checked(self.binop_table[operator](left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        step(context)
        if (isinstance(obj, types.BuiltinMethodType | types.MethodType)
                and isinstance(obj.__self__, str | bytes | int | Decimal)):
            if obj.__name__ == "join" and args and isinstance(obj.__self__, str | bytes):
                args = (_join_items(obj.__self__, args[0]), *args[1:])
            else:
                guard = _METHOD_GUARDS.get(obj.__name__)
                if guard is not None:
                    guard(obj.__self__, *args, **kwargs)
        return checked(super().call(context, obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """str.format and format_map, as Jinja's sandbox has them, through a formatter that measures each
        field (a width of 10**9, or one text placed 30,000 times) before it is written."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or value.__name__ not in (
                "format", "format_map"):
            return None
        text = value.__self__
        if not isinstance(text, str):
            return None
        formatter = (_MeasuredEscapeFormatter(self, escape=text.escape) if isinstance(text, Markup)
                     else _MeasuredFormatter(self))
        is_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            formatter.room = MAX_TEXT - len(text)
            return type(text)(formatter.vformat(text, args, kwargs))

        return update_wrapper(wrapper, value)


# --- operators -------------------------------------------------------------------------------------

def _times(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_BITS:
            raise too_big()
        return
    count, sequence = (left, right) if isinstance(left, int) else (right, left)
    if (isinstance(count, int) and count > 1 and isinstance(sequence, str | bytes | list | tuple)
            and size(sequence) * count > MAX_TEXT):
        raise too_long()


def _power(left: Any, right: Any) -> None:
    if (isinstance(left, int) and isinstance(right, int) and right > 0 and left not in (0, 1, -1)
            and (left.bit_length() - 1) * right > MAX_BITS):
        raise too_big()


def _plus(left: Any, right: Any) -> None:
    sequences = str | bytes | list | tuple
    if isinstance(left, sequences) and isinstance(right, sequences) and size(left) + size(right) > MAX_TEXT:
        raise too_long()


def _percent(left: Any, right: Any) -> None:
    if isinstance(left, str):
        percent_size(left, right)
    elif isinstance(left, bytes | bytearray):  # no bytes reach a render; if one did, it is measured too
        percent_size(left.decode("latin-1"), right)


_BINOP_GUARDS: dict[str, Callable[[Any, Any], None]] = {"*": _times, "**": _power, "+": _plus, "%": _percent}

# %[(key)][flags][width][.precision][length]type
_PERCENT = re.compile(r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?"
                      r"[hlL]?(?P<kind>.?)", re.DOTALL)


def percent_size(text: str, args: Any) -> int:
    """About how long ``text % args`` is, measured from its conversions and their values; raises past
    MAX_TEXT (widths and precisions included: '%1000000000s')."""
    values = iter(args if isinstance(args, tuple) else (args,))
    total = len(text)
    for found in _PERCENT.finditer(text):
        if found["kind"] == "%":
            continue
        width, precision = (_number(next(values, 0)) if part == "*" else int(part or 0)
                            for part in (found["width"], found["precision"]))
        if width > MAX_TEXT or precision > MAX_TEXT:
            raise too_long()
        key = found["key"]
        value = (args.get(key) if isinstance(args, Mapping) else None) if key is not None else next(values, "")
        shown = size(value) if isinstance(value, str | bytes) or not isinstance(value, int | float) else 330
        total += max(width, shown + precision)
        if total > MAX_TEXT:
            raise too_long()
    return total


def _number(value: Any) -> int:
    return value if isinstance(value, int) else 0


# --- str, bytes and int methods --------------------------------------------------------------------

def _padded(text: Any, width: Any = 0, *_: Any) -> None:
    if isinstance(width, int) and width > MAX_TEXT:
        raise too_long()


def _expanded(text: Any, tabsize: Any = 8) -> None:
    tab = "\t" if isinstance(text, str) else b"\t"
    if isinstance(tabsize, int) and len(text) + text.count(tab) * tabsize > MAX_TEXT:
        raise too_long()


def _replaced(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if not isinstance(old, str | bytes) or not isinstance(new, str | bytes) or len(new) <= len(old):
        return
    if isinstance(text, str) != isinstance(old, str):
        return  # the call itself refuses str mixed with bytes
    times = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    if len(text) + times * (len(new) - len(old)) > MAX_TEXT:
        raise too_long()


def _translated(text: Any, table: Any) -> None:
    if not isinstance(text, str):
        return  # bytes.translate maps byte to byte
    values = table.values() if isinstance(table, Mapping) else table if isinstance(table, list | tuple) else ()
    longest = max((len(v) for v in values if isinstance(v, str)), default=1)
    if len(text) * longest > MAX_TEXT:
        raise too_long()


def _to_bytes(number: Any, length: Any = 1, *_: Any, **__: Any) -> None:
    if isinstance(length, int) and length > MAX_TEXT:
        raise too_long()


def _scaled(number: Any, places: Any, *_: Any) -> None:
    if (isinstance(number, Decimal) and number.is_finite() and isinstance(places, int)
            and number.adjusted() + places > MAX_BITS * 301 // 1000):
        raise too_big()


_METHOD_GUARDS: dict[str, Callable[..., None]] = {
    "center": _padded, "ljust": _padded, "rjust": _padded, "zfill": _padded, "expandtabs": _expanded,
    "replace": _replaced, "translate": _translated, "to_bytes": _to_bytes,
    "scaleb": _scaled,
}


def _join_items(separator: Any, items: Any) -> list[Any]:
    """The items of ``separator.join(items)``, once it is known that what they make is not too long."""
    listed = list(items)
    total = len(separator) * max(len(listed) - 1, 0)
    for item in listed:
        total += len(item) if isinstance(item, str | bytes) else 0  # anything else: join refuses it
        if total > MAX_TEXT:
            raise too_long()
    return listed


class _Measured:
    """A str.format formatter that counts what its fields write."""

    room = MAX_TEXT

    def format_field(self, value: Any, format_spec: str) -> Any:
        if any(int(n) > MAX_TEXT for n in re.findall(r"\d+", format_spec)):
            raise too_long()
        if not isinstance(value, str | int | float):
            size(value)
        written = super().format_field(value, format_spec)  # type: ignore[misc]
        self.room -= len(written)
        if self.room < 0:
            raise too_long()
        return written


class _MeasuredFormatter(_Measured, SandboxedFormatter):
    pass


class _MeasuredEscapeFormatter(_Measured, SandboxedEscapeFormatter):
    pass


# --- filters and globals -----------------------------------------------------------------------------

def _guarded(filter_fn: Callable[..., Any], guard: Callable[..., None] | None) -> Callable[..., Any]:
    """A built-in filter whose arguments ``guard`` measures first and whose result is checked."""
    passes = getattr(filter_fn, "jinja_pass_arg", None) is not None

    @wraps(filter_fn)  # keeps Jinja's pass_context / pass_eval_context mark
    def run(*args: Any, **kwargs: Any) -> Any:
        if guard is not None:
            guard(*(args[1:] if passes else args), **kwargs)
        return checked(filter_fn(*args, **kwargs))

    return run


def _replace_filter(text: Any, old: Any, new: Any, count: Any = None) -> None:
    _replaced(text_of(text), str(old), str(new), -1 if count is None else count)


def _center_filter(text: Any, width: Any = 80) -> None:
    _padded(text, width)


def _indent_filter(text: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    text = text_of(text)
    indent = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    if len(text) + (text.count("\n") + 1) * indent > MAX_TEXT:
        raise too_long()


def _wordwrap_filter(text: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None,
                     *_: Any, **kwargs: Any) -> None:
    text, wrapstring = text_of(text), kwargs.get("wrapstring", wrapstring)
    if isinstance(wrapstring, str) and isinstance(width, int):
        lines = text.count(" ") + text.count("\n") + len(text) // max(width, 1) + 1
        if len(text) + lines * len(wrapstring) > MAX_TEXT:
            raise too_long()


def _format_filter(text: Any, *args: Any, **kwargs: Any) -> None:
    percent_size(text_of(text), kwargs or args)


@pass_eval_context
def _join_filter(eval_ctx: EvalContext, items: Any, separator: Any = "", attribute: Any = None) -> str:
    """Jinja's join, measured first: its items (taken once, as they may come from a generator) and the
    separator between each two."""
    listed = list(items)
    if size(listed) + len(text_of(separator)) * len(listed) > MAX_TEXT:
        raise too_long()
    return checked(DEFAULT_FILTERS["join"](eval_ctx, listed, separator, attribute))


def _urlize_filter(text: Any, trim_url_limit: Any = None, nofollow: Any = False, target: Any = None,
                   rel: Any = None, *_: Any, **kwargs: Any) -> None:
    text = text_of(text)
    extra = sum(len(text_of(v)) for v in (kwargs.get("target", target), kwargs.get("rel", rel)) if v)
    if len(text) * 3 + (text.count(" ") + 1) * (extra + 60) > MAX_TEXT:
        raise too_long()


def _items_filter(items: Any, count: Any, *_: Any, **__: Any) -> None:
    if isinstance(count, int) and count > MAX_ITEMS:
        raise LimitExceeded(f"batch or slice of over {MAX_ITEMS:,} items")


_FILTER_GUARDS: dict[str, Callable[..., None]] = {
    "replace": _replace_filter, "center": _center_filter, "indent": _indent_filter, "wordwrap": _wordwrap_filter,
    "format": _format_filter, "urlize": _urlize_filter, "batch": _items_filter,
    "slice": _items_filter,
}
# Filters that make no more than a few times their input: their result is checked.
_FILTERS_CHECKED_AFTER = ("e", "escape", "forceescape", "list", "pprint", "string", "tojson", "truncate",
                          "urlencode", "xmlattr", "sort", "unique", "dictsort", "items", "groupby", "sum",
                          "int", "float", "round", "abs", "striptags", "title", "upper", "lower", "capitalize",
                          "trim")


# Filters whose work grows faster than their input (wordwrap: quadratic) or by a large factor.
_COSTLY = frozenset({"wordwrap", "indent", "center", "truncate", "format", "replace", "join", "urlize",
                     "striptags", "title", "wordcount", "pprint", "tojson", "xmlattr", "urlencode"})


def _charged(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (a filter or test), each call a step of the render; a costly one measures its
    input first."""
    passing = _PassArg.from_obj(function)
    costly = name in _COSTLY

    @pass_context
    @wraps(function)
    def run(context: Context, value: Any = None, *args: Any, **kwargs: Any) -> Any:
        step(context)
        if costly and (len(value) if isinstance(value, str) else size(value)) > MAX_FILTER_TEXT:
            raise LimitExceeded(f"{name}: text over {MAX_FILTER_TEXT:,} characters")
        if passing is _PassArg.context:
            return function(context, value, *args, **kwargs)
        if passing is _PassArg.eval_context:
            return function(context.eval_ctx, value, *args, **kwargs)
        if passing is _PassArg.environment:
            return function(context.environment, value, *args, **kwargs)
        return function(value, *args, **kwargs)

    run.engage_charged = True  # type: ignore[attr-defined]
    return run


def bounded_range(*args: Any) -> range:
    """range(), of at most MAX_ITEMS numbers."""
    numbers = range(*args)
    try:
        many = len(numbers) > MAX_ITEMS
    except OverflowError:
        many = True
    if many:
        raise LimitExceeded(f"range() over {MAX_ITEMS:,} numbers")
    return numbers


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    """Jinja's lipsum(), of at most MAX_TEXT characters (a word is at most 12 with its space)."""
    if any(not isinstance(v, int) for v in (n, min, max)) or n * max * 12 > MAX_TEXT:
        raise too_long()
    return generate_lorem_ipsum(n, html, min, max)
