"""Rendering is bounded: whoever writes a template (any signed-in role can preview one) cannot make a
render take more than a fraction of a second or more than a few megabytes. Text is at most 65,536
characters (a message is a few parts; that is hundreds), a number at most 1,000 digits, a render at
most 20,000 steps (loop rounds, calls, operations, outputs) and 0.5 s. What would pass a limit
is refused before it is built, as a TemplateError naming the limit and the template line; at save
time (`check`) too, on the sample recipient."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engage.engine import statuses as st
from engage.engine.campaigns.launching import launch_run
from engage.engine.store.schema import Message
from engage.engine.templates.render import CompiledTemplate, TemplateError, TemplateLimitError, check, sample_context
from tests.campaign_setup import add_subscribers, make_campaign, statuses
from tests.test_campaign_sending_rules import _dispatch_once

TEXT_LIMIT = "text over 65,536 characters"
STEPS_LIMIT = "over 20,000 steps"
NUMBER_LIMIT = "number over 1,000 digits"
SEVEN_LOOPS = "".join("{% for i" + str(n) + " in range(10) %}" for n in range(7)) + "x" + "{% endfor %}" * 7

# The payloads of the finding, and the limit each runs into.
FOUND = {
    "{{ 'x'*10**9 }}": TEXT_LIMIT,
    "{{ 'x'*10**8 }}": TEXT_LIMIT,
    "{{ 'ab'|replace('a','a'*1000)|replace('a','a'*1000)|replace('a','a'*100) }}": TEXT_LIMIT,
    SEVEN_LOOPS: STEPS_LIMIT,
    "{{ 10**100000 }}": NUMBER_LIMIT,
}

# Other ways to grow a text, a number or the work from a short template.
GROWING = {
    "a method": ("{{ 'x'.center(10**9, '-') }}", TEXT_LIMIT),
    "ljust": ("{{ 'x'.ljust(10**8, '-') }}", TEXT_LIMIT),
    "str.replace": ("{{ ('a'*60000).replace('a', 'aaaa') }}", TEXT_LIMIT),
    "str.join": ("{{ ('a'*60000).join(['b', 'c', 'd']) }}", TEXT_LIMIT),
    "translate": ("{{ ('a'*60000).translate({97: 'bbbb'}) }}", TEXT_LIMIT),
    "format width": ("{{ '{:>1000000000}'.format(1) }}", TEXT_LIMIT),
    "format fields": ("{{ ('{0}'*30000).format('a'*60000) }}", TEXT_LIMIT),
    "percent width": ("{{ '%1000000000s' % 'x' }}", TEXT_LIMIT),
    "percent fields": ("{{ ('%s'*30000) % (('a'*60000,)*30000) }}", TEXT_LIMIT),
    "the format filter": ("{{ '%1000000000s'|format('x') }}", TEXT_LIMIT),
    "doubling by ~": ("{% set a = 'x'*60000 %}{% set b = a ~ a %}{{ b|length }}", TEXT_LIMIT),
    "doubling by +": ("{% set a = 'x'*60000 %}{% set b = a + a %}{{ b|length }}", TEXT_LIMIT),
    "a set block": ("{% set a = 'x'*40000 %}{% set b %}{{ a }}{{ a }}{% endset %}{{ b|length }}", TEXT_LIMIT),
    "a loop of text": ("{% for i in range(9000) %}" + "y" * 100 + "{% endfor %}", TEXT_LIMIT),
    "nested lists": ("{% set a = ['x'*60000] %}{% set b = [a, a, a] %}{{ b|length }}", TEXT_LIMIT),
    "list repetition": ("{{ (['x'*1000]*1000)|length }}", TEXT_LIMIT),
    "the center filter": ("{{ 'x'|center(10**9) ~ '.' }}", TEXT_LIMIT),
    "the indent filter": ("{{ ('a\n'*30000)|indent(1000) }}", TEXT_LIMIT),
    "the wordwrap filter": ("{{ ('a '*30000)|wordwrap(1, wrapstring='x'*1000) }}", TEXT_LIMIT),
    "the join filter": ("{{ ['a', 'b', 'c']|join('x'*60000) }}", TEXT_LIMIT),
    "the batch filter": ("{{ [1]|batch(10**8, 'x')|list|length }}", "over 10,000 items"),
    "lipsum": ("{{ lipsum(10**6) }}", TEXT_LIMIT),
    "range": ("{% for i in range(10**6) %}{% endfor %}", "range() over 10,000 numbers"),
    "a recursive macro": ("{% macro m(n) %}{% if n %}{{ m(n-1) }}{{ m(n-1) }}{% endif %}{% endmacro %}{{ m(40) }}",
                          STEPS_LIMIT),
    "a product": ("{% set a = 10**900 %}{{ a * a }}", NUMBER_LIMIT),
    "a power": ("{{ 7**(9**9) }}", NUMBER_LIMIT),
}


def _refused(body: str, context: dict | None = None) -> tuple[TemplateError, float, int]:
    """(the error, seconds taken, peak bytes allocated) of rendering ``body``; the peak is measured in a
    second render, as tracing allocations slows one down several times."""
    context = sample_context() if context is None else context
    started = time.perf_counter()
    with pytest.raises(TemplateError) as raised:
        CompiledTemplate(body, "en").render(context)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError):
            CompiledTemplate(body, "en").render(context)
        return raised.value, seconds, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("body", list(FOUND), ids=["x*10**9", "x*10**8", "replace chain", "seven loops", "10**100000"])
def test_each_payload_of_the_finding_is_refused_within_a_second_and_a_few_megabytes(body):
    error, seconds, peak = _refused(body)
    assert FOUND[body] in str(error) and error.line == 1
    assert seconds < 1 and peak < 20_000_000


@pytest.mark.parametrize("way", list(GROWING))
def test_every_way_to_grow_a_render_is_refused_naming_its_limit(way):
    body, limit = GROWING[way]
    error, seconds, peak = _refused(body)
    assert limit in str(error), str(error)
    assert seconds < 1 and peak < 20_000_000


def test_a_refused_render_is_a_template_limit_error_at_the_line_of_the_template(body="Hi {{ first_name }},\n"
                                                                                       "{{ 'x' * 10**9 }}"):
    error, _, _ = _refused(body)
    assert isinstance(error, TemplateLimitError) and error.line == 2
    assert str(error) == "line 2: cannot render: text over 65,536 characters"


def test_saving_checks_a_template_on_the_sample_recipient_and_names_the_line_over_a_limit():
    with pytest.raises(TemplateLimitError) as raised:
        check("Hi {{ first_name }}\n{% for i in range(9000) %}{{ city * 100 }}{% endfor %}")
    assert raised.value.line == 2 and TEXT_LIMIT in str(raised.value)


def test_saving_does_not_refuse_a_template_that_fails_on_the_sample_values_within_the_limits():
    template = check("Hi {{ balance / (loyalty_points - 1250) }}")  # the sample has 1,250 points
    with pytest.raises(TemplateError, match="cannot render"):
        template.render(sample_context())


def test_a_render_over_its_time_is_stopped_naming_the_time():
    body = ("{% set a = range(8000)|map('string')|list %}{% set b = range(8000)|map('string')|list %}"
            "{% for i in range(9999) %}{% if a == b and a == b and a == b %}{% endif %}{% endfor %}")
    error, seconds, _ = _refused(body)
    assert "took over 0.5 s" in str(error) and seconds < 1


def test_the_work_budget_is_per_render_not_per_template():
    template = CompiledTemplate("{% for i in range(9000) %}.{% endfor %}{{ first_name }}", "en")
    for name in ("A", "B", "C", "D", "E", "F"):  # 6 x 9,000 steps
        assert len(template.render({"first_name": name}).text) == 9001


def test_ordinary_templates_render_as_before():
    body = ("{% set n = loyalty_points * 2 %}Hi {{ first_name|default('friend')|upper }} ~ {{ city ~ '!' }} "
            "{{ '%05d'|format(n) }} {{ '{:>6}'.format(n) }} {{ ['a', city]|join('/') }} "
            "{% for w in ['x', 'y'] %}{{ loop.index }}{{ w * 2 }}{% endfor %} {{ 2**10 }} {{ (1, 2) + (3,) }}")
    text = CompiledTemplate(body, "en").render(sample_context()).text
    assert text == "Hi ALEXANDER ~ Tashkent! 02500   2500 a/Tashkent 1xx2yy 1024 (1, 2, 3)"


def test_a_recipient_over_a_limit_fails_alone_saying_so_and_the_batch_is_sent(engine, broker_url):
    add_subscribers(engine, 4)
    campaign_id = make_campaign(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE template_variants SET body = "
                             "'Hi {{ first_name }}{{ ''x'' * 10**9 if first_name == ''N2'' else '''' }}'")
    launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    _dispatch_once(engine, broker_url)
    with engine.connect() as conn:
        failed = conn.execute(select(Message.msisdn, Message.error).where(Message.status == st.FAILED)).all()
    assert statuses(engine, campaign_id) == {st.QUEUED: 3, st.FAILED: 1}
    assert [tuple(f) for f in failed] == [("+998900000002", "line 1: cannot render: text over 65,536 characters")]


def test_a_decimal_too_large_says_so_in_words():
    error, _, _ = _refused("{{ balance ** 999999 }}")
    assert str(error) == "line 1: cannot render: number too large"
