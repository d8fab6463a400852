"""Templates of text and plain fields are written without Jinja (templates/plain.py), and write
exactly what Jinja writes: any difference would make a campaign's text depend on how it is rendered."""

import pytest

from engage.engine.templates import limits
from engage.engine.templates.render import CompiledTemplate, TemplateLimitError, sample_context

# `{{ '' }}` writes nothing, but it is not a field, so a template ending with it is rendered by Jinja
JINJA = "{{ '' }}"

BODIES = [
    "Hi {{ first_name }}, your offer is here. Reply STOP to opt out.",
    "{{first_name}}{{last_name}}",
    "  {{ first_name }}  \n",
    "Dear {{ first_name }} {{ last_name }},\nfrom {{ sender }} ({{ campaign }})\n",
    "{{- first_name -}}   and   {{- city }}",
    "Привет, {{ first_name }}! Ваш тариф {{ tariff_plan }}.",
    "{{ msisdn }}",
    "no fields at all, only text",
    "{# a comment, which Jinja drops #}Hi {{ first_name }}",
]

CONTEXTS = [
    {"first_name": "Aziz", "last_name": "Karimov", "city": "Tashkent", "tariff_plan": "Smart 30",
     "msisdn": "+998901234567", "sender": "Engage", "campaign": "Spring"},
    {},
    {"first_name": None, "last_name": "", "city": "   ", "sender": "Engage"},
    {"first_name": "  padded  ", "last_name": "{{ not a field }}", "city": "{% raw %}", "campaign": "x\ny"},
    {"first_name": "Ёлка 🎄", "last_name": "€[]{}|^~\\", "tariff_plan": "\t"},
]


@pytest.mark.parametrize("body", BODIES)
def test_a_plain_template_writes_what_jinja_writes(body):
    plain, jinja = CompiledTemplate(body), CompiledTemplate(body + JINJA)
    assert plain._plain is not None and jinja._plain is None
    for context in CONTEXTS:
        assert plain.render(context) == jinja.render(context), context


@pytest.mark.parametrize("body", [
    "Hi {{ first_name | upper }}",
    "{% if first_name %}Hi {{ first_name }}{% endif %}",
    "Hi {{ first_name or 'friend' }}",
    "{{ attributes }}",
    "{{ range }}",
    "{% set x = 'a' %}{{ x }}",
    "{{ 'literal' }}",
])
def test_anything_more_than_text_and_bare_fields_is_left_to_jinja(body):
    assert CompiledTemplate(body)._plain is None


def test_a_value_that_is_not_text_is_written_by_jinja_in_the_recipients_language():
    template = CompiledTemplate("Balance {{ balance }}, points {{ loyalty_points }}, since {{ activation_date }}")
    context = sample_context()
    assert template._plain is not None
    assert template.render(context) == CompiledTemplate(template.body + JINJA).render(context)


def test_a_value_over_the_limit_on_text_fails_as_it_does_in_jinja():
    with pytest.raises(TemplateLimitError, match="characters"):
        CompiledTemplate("Hi {{ first_name }}").render({"first_name": "x" * (limits.MAX_TEXT + 1)})
