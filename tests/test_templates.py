"""Templates render in a sandbox; mistakes are found when the template is saved, with their place."""

from decimal import Decimal

import pytest

from engage.engine import subscriber_fields
from engage.engine.sms_encoding import analyse
from engage.engine.store.schema import Subscriber
from engage.engine.templates.render import (
    FIELDS,
    CompiledTemplate,
    Rendered,
    TemplateError,
    check,
    check_parts,
    sample_context,
)


def _error(body: str) -> TemplateError:
    with pytest.raises(TemplateError) as err:
        CompiledTemplate(body)
    return err.value


def test_personal_fields_are_filled_in():
    out = CompiledTemplate("Hi {{ first_name }}, balance {{ balance }}").render({"first_name": "Aziz", "balance": 5})
    assert out.text == "Hi Aziz, balance 5"


def test_every_catalogue_column_is_a_field_with_msisdn_first():
    columns = [n for n in subscriber_fields.FIELDS if n in Subscriber.__table__.c]
    assert FIELDS[0] == "msisdn"
    assert sorted(FIELDS) == sorted(columns)


def test_catalogue_fields_beyond_the_old_list_are_usable():
    out = CompiledTemplate("{{ tariff_plan }} {{ loyalty_points }}").render({"tariff_plan": "Smart",
                                                                            "loyalty_points": 7})
    assert out.text == "Smart 7"


def test_sender_and_campaign_name_are_usable():
    out = CompiledTemplate("{{ campaign }} from {{ sender }}").render({"campaign": "Spring", "sender": "Engage"})
    assert out.text == "Spring from Engage"


def test_a_missing_field_falls_back_to_its_default():
    out = CompiledTemplate("Hi {{ first_name | default('friend') }}").render({"first_name": None})
    assert out.text == "Hi friend"


def test_an_empty_text_field_falls_back_to_its_default():
    assert CompiledTemplate("Hi {{ first_name | default('friend') }}").render({"first_name": ""}).text == "Hi friend"


def test_an_absent_field_falls_back_with_or():
    assert CompiledTemplate("Hi {{ first_name or 'friend' }}").render({}).text == "Hi friend"


def test_a_null_field_falls_back_with_or():
    assert CompiledTemplate("Hi {{ first_name or 'friend' }}").render({"first_name": None}).text == "Hi friend"


def test_a_missing_field_without_default_renders_empty_not_none():
    assert CompiledTemplate("Hi {{ first_name }}!").render({"first_name": None}).text == "Hi !"


def test_a_null_custom_attribute_renders_empty_not_none():
    assert CompiledTemplate("[{{ attributes.plan }}]").render({"attributes": {"plan": None}}).text == "[]"


def test_a_null_custom_attribute_falls_back_to_its_default():
    out = CompiledTemplate("{{ attributes.plan | default('basic') }}").render({"attributes": {"plan": None}})
    assert out.text == "basic"


def test_custom_attributes_are_reachable():
    out = CompiledTemplate("Plan: {{ attributes.plan }}").render({"attributes": {"plan": "gold"}})
    assert out.text == "Plan: gold"


def test_rendered_text_is_stripped():
    assert CompiledTemplate("  \n Hi {{ first_name }} \n").render({"first_name": "Ann"}).text == "Hi Ann"


def test_a_syntax_error_names_its_line():
    assert _error("Hello\n{{ first_name ").line == 2


def test_an_unclosed_expression_points_at_its_opening_braces():
    err = _error("Hello\nDear {{ first_name ")
    assert (err.line, err.column) == (2, 6)
    assert "'{{' is never closed" in str(err)


def test_an_unclosed_block_points_at_its_tag():
    err = _error("Hi\n  {% if first_name %}dear")
    assert (err.line, err.column) == (2, 3)
    assert "'{% if %}' is never closed with '{% endif %}'" in err.message


def test_an_unexpected_token_is_located_by_column():
    err = _error("Hi {{ first_name last_name }}")
    assert (err.line, err.column) == (1, 18)


def test_an_unexpected_character_is_located_by_column():
    err = _error("Hi\n{{ first_name $ }}")
    assert (err.line, err.column) == (2, 15)


def test_an_unknown_tag_is_located_and_a_close_one_suggested():
    err = _error("Hi\n {% iff first_name %}x{% endif %}")
    assert (err.line, err.column) == (2, 5)
    assert "unknown tag 'iff' (did you mean 'if'?)" in err.message


def test_the_error_text_says_line_and_column_then_the_problem():
    assert str(_error("Hi {{ frist_name }}")).startswith("line 1, column 7: unknown field 'frist_name'")


def test_an_unknown_field_is_refused_when_saved():
    with pytest.raises(TemplateError, match="unknown field 'frist_name'"):
        CompiledTemplate("Hi {{ frist_name }}")


def test_an_unknown_field_suggests_the_closest_field():
    assert "(did you mean 'first_name'?)" in _error("Hi {{ frist_name }}").message


def test_an_unknown_field_is_located_at_its_first_use():
    err = _error("Hi {{ first_name }},\nyour {{ balanse }} and {{ balanse }}")
    assert (err.line, err.column) == (2, 9)


def test_an_unknown_field_is_not_confused_with_the_same_word_in_the_text():
    err = _error("Your balanse: {{ balanse }}")
    assert (err.line, err.column) == (1, 18)


def test_the_first_mistake_in_the_template_is_reported():
    err = _error("{{ first_name | uper }}\n{{ balanse }}")
    assert (err.line, err.column) == (1, 17)


def test_an_unknown_filter_is_refused_when_saved_with_its_place():
    with pytest.raises(TemplateError) as err:
        check("Hi\n{{ first_name | defualt('friend') }}")
    assert (err.value.line, err.value.column) == (2, 17)
    assert "unknown filter 'defualt' (did you mean 'default'?)" in err.value.message


def test_an_unknown_test_is_refused_when_saved():
    assert "unknown test 'nul'" in _error("{% if first_name is nul %}x{% endif %}").message


def test_money_without_a_currency_is_refused_when_saved():
    assert "money needs a currency code" in _error("{{ balance | money }}").message


def test_money_in_an_unknown_currency_is_refused_when_saved():
    assert "unknown currency 'UZZ'" in _error("{{ balance | money('UZZ') }}").message


def test_including_other_templates_is_refused_when_saved():
    assert "'include' is not available" in _error("{% include 'other' %}").message


def test_python_internals_are_refused_when_saved():
    with pytest.raises(TemplateError, match="'__[a-z]+__' is not a field") as err:
        CompiledTemplate("Hi\n{{ first_name.__class__.__mro__ }}")
    assert (err.value.line, err.value.column) == (2, 15)


def test_the_sandbox_renders_nothing_of_python_internals_reached_indirectly():
    out = CompiledTemplate("[{{ first_name | attr('__class__') }}]").render({"first_name": "x"})
    assert out.text == "[]"


def test_a_sandbox_refusal_at_render_time_is_a_template_error_with_its_line():
    template = CompiledTemplate("Hi\n{{ attributes.update({'plan': 'free'}) }}")
    with pytest.raises(TemplateError, match="cannot render: access to attribute 'update'") as err:
        template.render({"attributes": {"plan": "gold"}})
    assert err.value.line == 2


def test_a_type_error_at_render_time_is_a_template_error_not_a_crash():
    with pytest.raises(TemplateError, match="cannot render"):
        CompiledTemplate("{{ balance + first_name }}").render({"balance": 1, "first_name": "x"})


def test_rendered_text_knows_its_encoding_and_parts():
    out = CompiledTemplate("Привет {{ first_name }}").render({"first_name": "Аня"})
    assert (out.info.encoding, out.info.parts) == ("ucs2", 1)


def test_a_template_lists_the_subscriber_fields_it_uses():
    template = CompiledTemplate("{{ first_name }} {{ attributes.plan }} {{ sender }} {% set x = 1 %}{{ x }}")
    assert template.fields == {"first_name", "attributes"}


def test_a_template_showing_times_also_needs_the_subscribers_time_zone():
    assert CompiledTemplate("{{ last_activity_at | datetime }}").fields == {"last_activity_at", "timezone"}


def test_a_template_without_fields_renders_the_same_text_for_everyone():
    template = CompiledTemplate("Top up today!")
    assert template.static and template.render({"first_name": "A"}) is template.render({"first_name": "B"})


def test_parts_within_the_campaigns_cap_pass():
    check_parts(Rendered("x" * 160, analyse("x" * 160)), 1)


def test_parts_over_the_campaigns_cap_are_an_error():
    text = "x" * 400
    with pytest.raises(TemplateError, match=r"^3 parts, over the campaign's cap of 2$"):
        check_parts(Rendered(text, analyse(text)), 2)


def test_the_sample_recipient_fills_every_field():
    context = sample_context()
    assert all(context[name] is not None for name in FIELDS)


def test_recipients_with_the_same_values_share_one_rendering():
    template = CompiledTemplate("Hi {{ first_name | title }} in {{ city }}")  # a filter: not templates/plain.py
    first = template.render({"first_name": "Aziz", "city": "Tashkent", "msisdn": "+998901000001"})
    second = template.render({"first_name": "Aziz", "city": "Tashkent", "msisdn": "+998901000002"})
    assert second is first and first.text == "Hi Aziz in Tashkent"
    assert template.render({"first_name": "Lola", "city": "Tashkent"}).text == "Hi Lola in Tashkent"


def test_equal_values_that_print_differently_are_rendered_apart():
    template = CompiledTemplate("{{ balance }} {{ roaming }}")
    assert template.render({"balance": Decimal("1.0"), "roaming": 1}).text == "1.0 1"
    assert template.render({"balance": Decimal("1.00"), "roaming": True}).text == "1.00 True"


def test_a_template_reading_jinja_globals_renders_for_each_recipient():
    template = CompiledTemplate("{{ first_name }} {{ lipsum(1, False, 20, 21) }}")
    assert template.render({"first_name": "Aziz"}) is not template.render({"first_name": "Aziz"})


def test_a_template_drawing_at_random_renders_for_each_recipient():
    template = CompiledTemplate("{{ first_name }} {{ ['a', 'b', 'c', 'd', 'e', 'f'] | random }}")
    assert template.render({"first_name": "Aziz"}) is not template.render({"first_name": "Aziz"})
