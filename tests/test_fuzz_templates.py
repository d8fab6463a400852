"""Fuzz: generated templates (expressions that multiply, raise, repeat, replace, pad and join;
loops in loops; macros that call themselves; reaches for Python's internals; plain noise) compiled and
rendered for a recipient. Each one renders a bounded text or is refused with a TemplateError; none
raises anything else, takes more than a second, or makes the process grow by 100 MB."""

from __future__ import annotations

import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage.engine.templates import limits
from engage.engine.templates.render import CompiledTemplate, TemplateError, sample_context

NUMBERS = st.sampled_from(["10", "1000", "10**5", "10**9", "2**64", "9**9**9", "-1", "0", "1e308", "10**100000"])
STRINGS = st.sampled_from(["'x'", "'ab'", "first_name", "'%s'", "'{0}'", "city", "\"é😀\"", "''"])
LEAVES = NUMBERS | STRINGS | st.sampled_from(["range(10)", "range(10**6)", "[1,2,3]", "lipsum", "cycler",
                                             "''.__class__", "().__class__.__mro__", "self", "namespace()",
                                             "balance", "balance.scaleb(999990)", "balance ** 100000",
                                             "'%999999999s'.encode()", "(1).to_bytes(9)", "('x'*9000)"])
FILTERS = st.sampled_from(["replace('a', 'a'*1000)", "replace('x', 'xx')", "center(10**6)", "indent(10**6)",
                           "join(','*10**4)", "wordwrap(1)", "list", "string", "sum", "length", "title", "upper",
                           "format(1,2)", "truncate(10**9)", "batch(10**6)", "first", "default('x'*10**5)",
                           "urlize", "trim", "reverse", "unique", "int", "float", "abs", "tojson",
                           "wordwrap(1)|wordwrap(1)", "striptags", "indent(100)", "center(9000)"])
OPS = st.sampled_from(["*", "**", "+", "~", "//", "%", "-"])


def _expression(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return LEAVES
    inner = _expression(depth - 1)
    return (inner | st.tuples(inner, OPS, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
            | st.tuples(inner, FILTERS).map(lambda t: f"({t[0]})|{t[1]}"))


EXPRESSIONS = _expression(3)


@st.composite
def bodies(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        shape = draw(st.integers(0, 5))
        expr = draw(EXPRESSIONS)
        if shape == 0:
            parts.append("{{ " + expr + " }}")
        elif shape == 1:
            loops = draw(st.integers(1, 7))
            parts.append("".join(f"{{% for i{n} in range({draw(NUMBERS)}) %}}" for n in range(loops))
                         + "{{ " + expr + " }}" + "{% endfor %}" * loops)
        elif shape == 2:
            parts.append("{% macro m(n) %}{{ " + expr + " }}{{ m(n) }}{% endmacro %}{{ m(1) }}")
        elif shape == 3:
            parts.append("{% set s = " + expr + " %}{{ s }}{{ s ~ s }}")
        elif shape == 4:
            parts.append(draw(st.text(max_size=40)))
        else:
            parts.append("{{ " + expr + "." + draw(st.sampled_from(["__class__", "mro", "format", "__globals__",
                                                                      "zfill(10**8)", "ljust(10**8)"])) + " }}")
    return "".join(parts)


def _render(body: str) -> None:
    try:
        rendered = CompiledTemplate(body, "en").render(sample_context())
    except TemplateError as exc:
        assert str(exc)
    else:
        assert len(rendered.text) <= limits.MAX_TEXT


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
def test_a_generated_template_renders_bounded_or_is_refused_within_a_second(body: str) -> None:
    started = limits.render_clock()  # the render's CPU: neither other processes nor the cycle collector
    _render(body)
    assert limits.render_clock() - started < 1.0, "the render took too long"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
def test_a_generated_template_never_grows_the_process_by_100_mb(body: str) -> None:
    tracemalloc.start()  # slows the render: its time is the other test's business
    try:
        _render(body)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, f"the render grew the process by {peak / 2**20:.0f} MB"
