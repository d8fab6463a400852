"""Previewing a template on a real subscriber: the variant a send would use, every other variant,
and what each text costs; a broken variant is shown with its error, not raised."""

import pytest
from sqlalchemy import insert

from engage.engine.store.schema import Subscriber, TemplateVariant
from engage.engine.templates import store
from engage.engine.templates.preview import preview
from tests.audience_people import add_people

VARIANTS = {"en": "Hi {{ first_name | default('friend') }} from {{ sender }}",
            "ru": "Привет, {{ first_name | default('друг') }}!"}


def _template(engine, variants=None, **kwargs) -> int:
    with engine.begin() as conn:
        return store.create(conn, "promo", variants or VARIANTS, default_language="en", actor="t", **kwargs)


def _preview(engine, template_id, **kwargs) -> dict:
    with engine.connect() as conn:
        return preview(conn, template_id, **kwargs)


def test_without_a_subscriber_the_first_subscriber_is_used(engine):
    add_people(engine)
    result = _preview(engine, _template(engine))
    assert (result["subscriber"]["msisdn"], result["subscriber"]["sample"]) == ("+998901000001", False)


def test_the_subscribers_language_picks_the_variant(engine):
    add_people(engine)
    result = _preview(engine, _template(engine), msisdn="+998901000002")
    assert (result["language"], result["arm"], result["text"]) == ("ru", "A", "Привет, Anna!")


def test_a_number_is_found_however_it_is_typed(engine):
    add_people(engine)
    result = _preview(engine, _template(engine), msisdn="90 100 00 02")
    assert result["subscriber"]["msisdn"] == "+998901000002"


def test_a_subscriber_is_found_by_id(engine):
    add_people(engine)
    result = _preview(engine, _template(engine), subscriber_id=3, sender="Engage")
    assert result["text"] == "Hi Sam from Engage"


def test_a_language_without_a_variant_previews_the_default(engine):
    add_people(engine)
    result = _preview(engine, _template(engine), msisdn="+998901000001")  # uz
    assert (result["language"], result["text"]) == ("en", "Hi Aziz from")


def test_the_preview_shows_encoding_parts_and_characters(engine):
    add_people(engine)
    result = _preview(engine, _template(engine), msisdn="+998901000002")
    assert (result["encoding"], result["parts"], result["characters"]) == ("ucs2", 1, 13)


def test_every_variant_is_rendered_for_the_same_subscriber(engine):
    add_people(engine)
    result = _preview(engine, _template(engine), msisdn="+998901000003", sender="Engage")
    assert [(v["language"], v["arm"], v["text"], v["encoding"]) for v in result["all_variants"]] == [
        ("en", "A", "Hi Sam from Engage", "gsm7"), ("ru", "A", "Привет, Sam!", "ucs2")]


def test_an_arm_can_be_previewed(engine):
    add_people(engine)
    template_id = _template(engine, arms={"B": {"en": "Hey {{ first_name }}"}})
    result = _preview(engine, template_id, msisdn="+998901000002", arm="B")
    assert (result["language"], result["arm"], result["text"]) == ("en", "B", "Hey Anna")


def test_a_missing_value_previews_its_fallback(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).values(msisdn="+998901000009", language="en", attributes={}))
    assert _preview(engine, _template(engine))["text"] == "Hi friend from"


def test_the_campaign_name_is_rendered(engine):
    add_people(engine)
    result = _preview(engine, _template(engine, {"en": "{{ campaign }}: top up"}), campaign="Spring")
    assert result["text"] == "Spring: top up"


def test_without_subscribers_a_sample_recipient_is_used(engine):
    result = _preview(engine, _template(engine))
    assert result["subscriber"]["sample"] is True
    assert result["text"].startswith("Hi Alexander")


def test_an_unknown_subscriber_id_is_a_lookup_error_naming_it(engine):
    with pytest.raises(LookupError, match="no subscriber with id 42"):
        _preview(engine, _template(engine), subscriber_id=42)


def test_an_unknown_number_is_a_lookup_error_naming_it(engine):
    add_people(engine)
    with pytest.raises(LookupError, match=r"no subscriber with number '\+998909999999'"):
        _preview(engine, _template(engine), msisdn="+998909999999")


def test_an_unknown_template_is_a_lookup_error(engine):
    with pytest.raises(LookupError, match="no template with id 5"):
        _preview(engine, 5)


def test_an_unknown_arm_is_a_lookup_error(engine):
    with pytest.raises(LookupError, match="has no arm 'B'"):
        _preview(engine, _template(engine), arm="B")


def test_a_variant_failing_at_render_reports_its_error(engine):
    add_people(engine)
    template_id = _template(engine, {"en": "Hi", "ru": "{{ attributes.update({'plan': 1}) }}"})
    result = _preview(engine, template_id, msisdn="+998901000002")
    assert result["text"] is None
    assert "cannot render: access to attribute 'update'" in result["error"]
    assert result["all_variants"][0]["text"] == "Hi"


def test_a_stored_variant_that_no_longer_compiles_reports_its_error(engine):
    template_id = _template(engine)
    with engine.begin() as conn:
        conn.execute(insert(TemplateVariant.__table__).values(template_id=template_id, language="uz", arm="A",
                                                              body="{{ frist_name }}"))
    add_people(engine)
    result = _preview(engine, template_id, msisdn="+998901000001")
    assert (result["language"], result["text"]) == ("uz", None)
    assert "unknown field 'frist_name'" in result["error"]


def test_a_text_over_the_parts_cap_carries_the_error(engine):
    add_people(engine)
    result = _preview(engine, _template(engine, {"en": "x" * 200}), max_parts=1)
    assert (result["parts"], result["error"]) == (2, "2 parts, over the campaign's cap of 1")
