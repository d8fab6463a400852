"""Templates render in a sandbox; mistakes are found when the template is saved."""

import pytest

from engage.engine.templates.render import CompiledTemplate, TemplateError


def test_personal_fields_are_filled_in():
    out = CompiledTemplate("Hi {{ first_name }}, balance {{ balance }}").render({"first_name": "Aziz", "balance": 5})
    assert out.text == "Hi Aziz, balance 5"


def test_a_missing_field_falls_back_to_its_default():
    out = CompiledTemplate("Hi {{ first_name | default('friend') }}").render({"first_name": None})
    assert out.text == "Hi friend"


def test_a_missing_field_without_default_renders_empty_not_none():
    assert CompiledTemplate("Hi {{ first_name }}!").render({"first_name": None}).text == "Hi !"


def test_custom_attributes_are_reachable():
    out = CompiledTemplate("Plan: {{ attributes.plan }}").render({"attributes": {"plan": "gold"}})
    assert out.text == "Plan: gold"


def test_a_syntax_error_names_its_line():
    with pytest.raises(TemplateError) as err:
        CompiledTemplate("Hello\n{{ first_name ")
    assert err.value.line == 2


def test_an_unknown_field_is_refused_when_saved():
    with pytest.raises(TemplateError, match="unknown field 'frist_name'"):
        CompiledTemplate("Hi {{ frist_name }}")


def test_python_internals_are_refused_when_saved():
    with pytest.raises(TemplateError, match="'__[a-z]+__' is not a field") as err:
        CompiledTemplate("Hi\n{{ first_name.__class__.__mro__ }}")
    assert err.value.line == 2


def test_the_sandbox_renders_nothing_of_python_internals_reached_indirectly():
    out = CompiledTemplate("[{{ first_name | attr('__class__') }}]").render({"first_name": "x"})
    assert out.text == "[]"


def test_rendered_text_knows_its_encoding_and_parts():
    out = CompiledTemplate("Привет {{ first_name }}").render({"first_name": "Аня"})
    assert (out.info.encoding, out.info.parts) == ("ucs2", 1)
