"""Message templates: Jinja2 in a sandbox, because marketing staff write them and a template
must never reach Python internals.

Every mistake that can be found without a recipient is found when the template is saved (syntax,
unknown fields, filters and tests, tags that need files), with the line and column to fix, so a
campaign never fails at send time for a typo. Missing values render empty or with a fallback
(`default('friend')` or `or 'friend'`); NULL never renders as "None". Numbers, money and dates
are written in the variant's language (see formatting.py).
"""

from __future__ import annotations

import decimal
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined, meta, nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engage.engine import subscriber_fields
from engage.engine.sms_encoding import TextInfo, analyse
from engage.engine.store.schema import Subscriber
from engage.engine.templates import formatting, limits, plain, positions
from engage.engine.templates.positions import did_you_mean, tidy
from engage.engine.templates.sandbox import BoundedSandbox

# The subscriber columns a template may use, msisdn first: what the dispatcher loads per recipient.
FIELDS: tuple[str, ...] = ("msisdn", *(name for name in subscriber_fields.FIELDS
                                       if name != "msisdn" and name in Subscriber.__table__.c))
EXTRA_NAMES = ("attributes", "sender", "campaign")  # custom JSON, the campaign's sender id and name
NAMES = frozenset(FIELDS) | frozenset(EXTRA_NAMES)
_PLAIN_NAMES = NAMES - {"attributes"}  # what a template writes as it is when the value is text
RENDER_CACHE = 4096  # texts kept per compiled template (emptied when full)
_NEEDS_FILES = {nodes.Include: "include", nodes.Extends: "extends", nodes.Import: "import",
                nodes.FromImport: "from ... import"}


class TemplateError(ValueError):
    """A template that cannot be used, with where: line and column (1-based) when known, and which
    variant when the template has several."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None, *, where: str = ""):
        self.message, self.line, self.column, self.where = message, line, column, where
        position = f"line {line}, column {column}" if line and column else f"line {line}" if line else ""
        super().__init__(": ".join(part for part in (where, position, message) if part))

    def within(self, where: str) -> TemplateError:
        """The same error, saying which variant it is in ("variant 'ru' arm 'B'")."""
        return type(self)(self.message, self.line, self.column, where=where)


class TemplateLimitError(TemplateError):
    """A render that would pass one of the limits on text, numbers, work or time (see limits.py)."""


class TemplateTimeError(TemplateLimitError):
    """A render stopped by its time: another try may pass, so it is never remembered as the template's."""


_TOO_DEEP = "too deeply nested to compile (brackets, blocks, or a long chain of operators, filters or attributes)"


@dataclass(frozen=True)
class Rendered:
    text: str
    info: TextInfo


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's `default`, also for NULL and empty text: a subscriber without a first name is greeted
    as "friend", whether the name is absent, NULL or "" (custom attributes reach here as None)."""
    if value is None or isinstance(value, Undefined) or (isinstance(value, str) and not value.strip()):
        return default_value
    return default_value if boolean and not value else value


def _cache_key(value: Any) -> Any:
    """Text and whole numbers as they are; other values with their type and text, because equal
    values can render differently (Decimal 1.0 and 1.00, True and 1, one moment in two zones)."""
    kind = type(value)
    return value if kind is str or kind is int or value is None else (kind, str(value))


@pass_context
def _finalize(context: Context, value: Any) -> str:
    """What an expression writes, counted against the render's budget (limits.py)."""
    if value is None:
        return ""
    text = value if type(value) is str else limits.text_of(value)
    limits.write(context, len(text))
    return text


@lru_cache(maxsize=64)
def environment(language: str | None = "en") -> ImmutableSandboxedEnvironment:
    """The sandbox for one language: the same everywhere except the formatting filters' locale."""
    env = BoundedSandbox(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False,
                         finalize=_finalize)
    env.filters["default"] = env.filters["d"] = _default
    env.filters.update(formatting.filters(formatting.locale_for(language)))
    return env.charge_calls()


class CompiledTemplate:
    """Parsed and checked once per campaign, rendered once per recipient."""

    def __init__(self, body: str, language: str | None = "en"):
        if len(body) > limits.MAX_BODY:  # compiling is not bounded by steps: its input is
            raise TemplateLimitError(f"the text is over {limits.MAX_BODY:,} characters ({len(body):,} given)")
        self.body = body
        self.language = language or "en"
        self.locale = formatting.locale_for(language)
        env = environment(str(self.locale))
        try:
            tree, names = self._compile(env, body)
        except (RecursionError, SyntaxError):  # Python's own: nesting the token count let through
            raise TemplateLimitError(_TOO_DEEP) from None
        # what it reads: its names, and the recipient's zone when a filter shows a time in it
        uses_zone = any(f.name in formatting.ZONE_FILTERS for f in tree.find_all(nodes.Filter))
        read = names | ({"timezone"} if uses_zone else set())
        # The subscriber columns to load for it (attributes included); sender/campaign come from the campaign.
        self.fields: frozenset[str] = frozenset(n for n in read if n in FIELDS or n == "attributes")
        self.static = not read
        self._static: Rendered | None = None
        # only what the template reads is taken from a recipient's context (a row of a dozen columns)
        self._names = tuple(sorted(read))
        # Recipients with the same values of what the template reads get the same text: a campaign
        # renders each (first_name, city, ...) once. Not for templates that draw lots (Jinja's
        # globals, lipsum among them, and the random filter).
        self._cached = not (any(n.name in env.globals for n in tree.find_all(nodes.Name) if n.ctx == "load")
                            or any(f.name == "random" for f in tree.find_all(nodes.Filter)))
        self._cache: dict[tuple[Any, ...], Rendered] = {}
        self._globals = dict(self._template.globals)
        self._plain = plain.plan(tree, _PLAIN_NAMES - set(self._globals))

    def _compile(self, env: ImmutableSandboxedEnvironment, body: str) -> tuple[nodes.Template, set[str]]:
        tokens = positions.tokens(env, body)
        deep = positions.deepest(tokens, limits.MAX_NESTING)
        if deep is not None:
            raise TemplateLimitError(f"brackets and blocks nested over {limits.MAX_NESTING} deep", deep.line,
                                     deep.column)
        tree = _parse(env, body)
        names = _undeclared(tree)
        problems = _problems(env, tree, tokens, names)
        if problems:
            raise min(problems, key=lambda e: (e.line or 0, e.column or 0))
        try:
            self._template = env.from_string(limits.bound(tree))
        except TemplateSyntaxError as exc:  # anything the checks above did not foresee
            raise TemplateError(tidy(exc.message), exc.lineno) from None
        return tree, names

    def render(self, context: dict[str, Any]) -> Rendered:
        """The text for one recipient; a failure at render time (the sandbox refusing something, a
        type error in an expression) is a TemplateError with the template line, never a crash."""
        if self.static:  # the same text for everyone: render and measure it once
            if self._static is None:
                self._static = self._render({})
            return self._static
        # NULL and "" are missing values: `default`, `or` and `if` all treat them alike.
        get = context.get
        values = {k: v for k in self._names if (v := get(k)) is not None and not (isinstance(v, str) and not v)}
        if self._plain is not None and (text := self._plain.render(values)) is not None:
            return Rendered(text, analyse(text))
        if not self._cached:
            return self._render(values)
        key = tuple(map(_cache_key, map(values.get, self._names)))
        try:
            return self._cache[key]
        except KeyError:
            pass
        except TypeError:  # a value that cannot be a key (custom attributes, a dict)
            return self._render(values)
        rendered = self._render(values)
        if len(self._cache) >= RENDER_CACHE:
            self._cache.clear()
        self._cache[key] = rendered
        return rendered

    def _render(self, context: dict[str, Any]) -> Rendered:
        template, env = self._template, self._template.environment
        try:
            # Template.render without its two walks over the globals' ChainMap per call (a fifth of
            # a render): the globals are flattened once, in __init__
            ctx = env.context_class(env, {**self._globals, **context}, template.name, template.blocks,
                                    globals=self._globals)
            try:
                with decimal.localcontext(limits.DECIMALS):
                    text = env.concat(template.root_render_func(ctx)).strip()
                if len(text) > limits.MAX_TEXT:  # the template's own text, which no expression wrote
                    raise limits.too_long()
            except Exception:
                env.handle_exception()  # re-raised with the template's own lines in the traceback
        except limits.RenderOutOfTime as exc:
            raise TemplateTimeError(f"cannot render: {exc}", template_line(exc)) from None
        except limits.LimitExceeded as exc:
            raise TemplateLimitError(f"cannot render: {exc}", template_line(exc)) from None
        except decimal.Overflow as exc:  # past limits.DECIMALS' exponents
            raise TemplateLimitError(f"cannot render: {limits.TOO_BIG}", template_line(exc)) from None
        except Exception as exc:  # any template failure fails one message, never the batch
            raise TemplateError(f"cannot render: {_said(exc)}", template_line(exc)) from None
        return Rendered(text, analyse(text))


def check(body: str, language: str | None = "en") -> CompiledTemplate:
    """Raise TemplateError if the template would fail at send time; the compiled template otherwise.
    It is rendered for the sample recipient too, to refuse a template over the limits at save time
    (TemplateLimitError, at its line); another failure on the sample's values is not the template's
    fault for sure, and is found per message at send time as before."""
    template = CompiledTemplate(body, language)
    try:
        template.render(sample_context())
    except TemplateLimitError:
        raise
    except TemplateError:
        pass
    return template


def on_sample(body: str, language: str | None = "en") -> Rendered:
    """The template rendered for the sample recipient, remembered: an editor opening a saved template
    (or previewing the same text again) renders it once, not on every look. Raises TemplateError.
    A render stopped by its time is not remembered: on a busy host the next look may pass."""
    key = (body, language or "en")
    outcome = _SAMPLES.get(key)
    if outcome is None:
        try:
            outcome = CompiledTemplate(body, key[1]).render(sample_context())
        except TemplateTimeError:
            raise
        except TemplateError as exc:
            outcome = exc.with_traceback(None)
        _SAMPLES.put(key, outcome, len(body) + len(outcome.text if isinstance(outcome, Rendered) else str(outcome)))
    if isinstance(outcome, TemplateError):
        raise outcome.with_traceback(None)
    return outcome


class _Remembered:
    """The most recently used outcomes of on_sample, up to ``room`` characters of bodies and texts in
    all (a text may be 65,536 characters: a count of entries would not bound the memory)."""

    def __init__(self, room: int) -> None:
        self._room, self._held = room, 0
        self._outcomes: OrderedDict[tuple[str, str], tuple[Rendered | TemplateError, int]] = OrderedDict()
        self._lock = threading.Lock()  # the web process renders samples in several threads

    def get(self, key: tuple[str, str]) -> Rendered | TemplateError | None:
        with self._lock:
            found = self._outcomes.get(key)
            if found is None:
                return None
            self._outcomes.move_to_end(key)
            return found[0]

    def put(self, key: tuple[str, str], outcome: Rendered | TemplateError, cost: int) -> None:
        with self._lock:
            if key in self._outcomes or cost > self._room:
                return
            while self._held + cost > self._room:
                self._held -= self._outcomes.popitem(last=False)[1][1]
            self._outcomes[key] = (outcome, cost)
            self._held += cost


SAMPLE_MEMORY = 1_000_000  # characters of bodies and texts on_sample remembers
_SAMPLES = _Remembered(SAMPLE_MEMORY)


def check_parts(rendered: Rendered | TextInfo, max_parts: int | None) -> None:
    """A campaign may cap how many parts one message costs; over the cap is an error, not a surprise bill."""
    info = rendered.info if isinstance(rendered, Rendered) else rendered
    if max_parts is not None and info.parts > max_parts:
        raise TemplateError(f"{info.parts} parts, over the campaign's cap of {max_parts}")


_SAMPLE = {
    "msisdn": "+998901234567", "first_name": "Alexander", "last_name": "Karimov", "language": "en",
    "gender": "M", "birth_date": date(1990, 5, 17), "region": "Tashkent Region", "city": "Tashkent",
    "branch": "north", "timezone": "Asia/Tashkent", "balance": Decimal("125000.50"), "network": "43405",
    "tariff_plan": "Smart 30", "device_os": "Android", "device_model": "Galaxy A54",
    "last_recharge_amount": Decimal("20000"), "arpu": Decimal("45000"), "loyalty_tier": "gold",
    "loyalty_points": 1250,
}
_SAMPLE_BY_TYPE = {
    subscriber_fields.TEXT: "Sample", subscriber_fields.NUMBER: Decimal("1000"), subscriber_fields.INTEGER: 10,
    subscriber_fields.DATE: date(2024, 1, 15), subscriber_fields.DATETIME: datetime(2024, 3, 5, 9, 30, tzinfo=UTC),
    subscriber_fields.BOOL: False,
}


def sample_context(*, sender: str = "Engage", campaign: str = "Spring offer") -> dict[str, Any]:
    """A plausible recipient (every catalogue field filled, typical lengths) to measure a template's
    encoding and parts before any real subscriber is at hand."""
    context: dict[str, Any] = {}
    for name in FIELDS:
        spec = subscriber_fields.FIELDS[name]
        context[name] = _SAMPLE.get(name, spec.choices[0] if spec.choices else _SAMPLE_BY_TYPE.get(spec.type))
    return {**context, "attributes": {}, "sender": sender, "campaign": campaign}


# --- checks at save time ---------------------------------------------------------------------

def _problems(env: ImmutableSandboxedEnvironment, tree: nodes.Template, tokens: list[Any],
              names: set[str]) -> list[TemplateError]:
    """Every mistake in a parsed template, each at its place; the caller reports the first."""
    found: list[TemplateError] = []

    def at(message: str, line: int, value: str, after: frozenset[str] | None = None,
           exclude_after: frozenset[str] = frozenset()) -> None:
        found.append(TemplateError(message, line, positions.column_of(tokens, line, value, after, exclude_after)))

    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", "")
        if isinstance(key, str) and key.startswith("_"):
            at(f"{key!r} is not a field a template may use", node.lineno, key, frozenset({".", "["}))
        elif key in BoundedSandbox.bytes_methods:
            at(f"{key!r} {limits.NOT_TEXT}", node.lineno, key, frozenset({".", "["}))
    for node_type, tag in _NEEDS_FILES.items():
        for node in tree.find_all(node_type):
            at(f"'{tag}' is not available in message templates", node.lineno, tag.split()[0])
    for node in tree.find_all(nodes.Filter):
        if node.name not in env.filters:
            at(f"unknown filter {node.name!r}{did_you_mean(node.name, env.filters)}", node.lineno, node.name,
               frozenset({"|", "filter"}))
        elif node.name == "money":
            _check_currency(node, at)
    for node in tree.find_all(nodes.Test):
        if node.name not in env.tests:
            at(f"unknown test {node.name!r}{did_you_mean(node.name, env.tests)}", node.lineno, node.name,
               frozenset({"is", "not"}))
    unknown = names - NAMES
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name in unknown:
            unknown.discard(node.name)  # the first use of each is enough
            at(f"unknown field {node.name!r}{did_you_mean(node.name, NAMES) or _FIELD_HINT}", node.lineno,
               node.name, exclude_after=frozenset({".", "|", "is", "not"}))
    return found


_FIELD_HINT = "; use a subscriber field (first_name, balance...), attributes.NAME, sender or campaign"


def _check_currency(node: nodes.Filter, at: Any) -> None:
    if not node.args and not any(k.key == "currency" for k in node.kwargs):
        at("money needs a currency code, e.g. money('UZS')", node.lineno, "money", frozenset({"|"}))
        return
    code = node.args[0] if node.args else next(k.value for k in node.kwargs if k.key == "currency")
    if isinstance(code, nodes.Const) and not (isinstance(code.value, str) and formatting.known_currency(code.value)):
        at(f"unknown currency {code.value!r}", node.lineno, "money", frozenset({"|"}))


def _undeclared(tree: nodes.Template) -> set[str]:
    """The names a template reads from its context. Jinja's own analysis stops at an unknown filter
    or test; then a simpler one (names read, less names assigned) lets every problem be reported."""
    try:
        return meta.find_undeclared_variables(tree)
    except TemplateSyntaxError:
        names = list(tree.find_all(nodes.Name))
        assigned = {n.name for n in names if n.ctx in ("store", "param")}
        return {n.name for n in names if n.ctx == "load"} - assigned



def _parse(env: ImmutableSandboxedEnvironment, body: str) -> nodes.Template:
    try:
        return env.parse(body)
    except TemplateSyntaxError as exc:
        message, line, column = positions.located_syntax_error(env, body, exc)
        raise TemplateError(message, line, column) from None


# decimal's errors say only their class list ("[<class 'decimal.Overflow'>]")
_DECIMAL_SAID = {decimal.Overflow: "number too large", decimal.DivisionByZero: "division by zero",
                 decimal.InvalidOperation: "not a valid calculation"}


def _said(exc: Exception) -> str:
    """A render failure in words: the exception's own message, or for decimal's, what it means."""
    if isinstance(exc, RecursionError):
        return "calls nested too deeply (a macro calling itself without end?)"
    if isinstance(exc, decimal.DecimalException):
        return next((said for kind, said in _DECIMAL_SAID.items() if isinstance(exc, kind)), "not a valid calculation")
    return tidy(str(exc)) or type(exc).__name__


def template_line(exc: BaseException) -> int | None:
    """The template line a render failure happened on: Jinja rewrites tracebacks so that frames of
    the compiled template carry the template's own line numbers."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
