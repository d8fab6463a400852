"""Saved templates: variants per language and A/B arm, checked when saved, picked per recipient."""

import pytest
from sqlalchemy import insert, select

from engage.engine.store.schema import AuditEntry, Campaign, Segment, TemplateVariant
from engage.engine.templates import store
from engage.engine.templates.render import TemplateError


def _create(engine, name="welcome", variants=None, **kwargs) -> int:
    with engine.begin() as conn:
        return store.create(conn, name, variants or {"en": "Hi {{ first_name }}"}, default_language="en",
                            actor="ann", **kwargs)


def _set(engine, template_id) -> store.TemplateSet:
    with engine.connect() as conn:
        return store.TemplateSet(conn, template_id)


def test_variants_are_saved_as_arm_a(engine):
    template_id = _create(engine, variants={"en": "Hi", "ru": "Привет"})
    with engine.connect() as conn:
        rows = conn.execute(select(TemplateVariant.language, TemplateVariant.arm).where(
            TemplateVariant.template_id == template_id).order_by(TemplateVariant.language)).all()
    assert [tuple(r) for r in rows] == [("en", "A"), ("ru", "A")]


def test_a_mistake_names_its_variant_line_and_column(engine):
    with pytest.raises(TemplateError) as err:
        _create(engine, variants={"en": "Hi", "ru": "Привет\n    {{ frist_name }}"})
    assert str(err.value) == ("variant 'ru': line 2, column 8: unknown field 'frist_name' "
                              "(did you mean 'first_name'?)")


def test_a_mistake_in_another_arm_names_the_arm(engine):
    with pytest.raises(TemplateError, match=r"^variant 'ru' arm 'B': line 2, column 5: unknown field 'frist_name'"):
        _create(engine, variants={"en": "Hi"}, arms={"B": {"en": "Hey", "ru": "Hi\n {{ frist_name }}"}})


def test_a_variant_is_checked_with_its_own_language(engine):
    template_id = _create(engine, variants={"en": "{{ balance | number }}", "ru": "{{ balance | number }}"})
    templates = _set(engine, template_id)
    assert templates.pick("ru").render({"balance": 1500.5}).text == "1 500,5"
    assert templates.pick("en").render({"balance": 1500.5}).text == "1,500.5"


def test_nothing_is_saved_when_a_variant_is_wrong(engine):
    with pytest.raises(TemplateError):
        _create(engine, variants={"en": "Hi", "ru": "{{ oops"})
    with engine.connect() as conn:
        assert store.list_all(conn) == []


def test_the_default_language_must_have_a_variant(engine):
    with pytest.raises(ValueError, match="default language 'en' has no variant"):
        _create(engine, variants={"ru": "Привет"})


def test_every_arm_must_have_the_default_language(engine):
    with pytest.raises(ValueError, match="default language 'en' has no variant in arm 'B'"):
        _create(engine, arms={"B": {"ru": "Привет"}})


@pytest.mark.parametrize("arm", ["", "toolong12", "B-1", "Б"])
def test_an_arm_is_named_by_one_to_eight_letters_or_digits(engine, arm):
    with pytest.raises(ValueError, match="an arm is named by 1 to 8 letters or digits"):
        _create(engine, arms={arm: {"en": "Hey"}})


def test_an_empty_variant_is_refused(engine):
    with pytest.raises(TemplateError, match="variant 'ru': the text is empty"):
        _create(engine, variants={"en": "Hi", "ru": "  "})


def test_a_language_must_be_a_language_code(engine):
    with pytest.raises(ValueError, match="'english' is not a language code"):
        _create(engine, variants={"en": "Hi", "english": "Hi"})


def test_two_templates_cannot_share_a_name(engine):
    _create(engine, name="welcome")
    with pytest.raises(ValueError, match="a template called 'welcome' exists"):
        _create(engine, name="welcome")


def test_creating_is_audited(engine):
    template_id = _create(engine, arms={"B": {"en": "Hey"}})
    with engine.connect() as conn:
        entry = conn.execute(select(AuditEntry.__table__).where(AuditEntry.action == "template.create")).one()
    assert (entry.actor, entry.object_id, entry.details["arms"]) == ("ann", str(template_id), ["A", "B"])


def test_the_recipients_language_is_picked(engine):
    templates = _set(engine, _create(engine, variants={"en": "Hi", "ru": "Привет"}))
    assert templates.pick("ru").render({}).text == "Привет"


def test_a_language_without_a_variant_gets_the_default(engine):
    templates = _set(engine, _create(engine, variants={"en": "Hi", "ru": "Привет"}))
    assert templates.pick("uz").render({}).text == "Hi"
    assert templates.pick(None).render({}).text == "Hi"


def test_a_regional_language_gets_its_base_languages_variant(engine):
    templates = _set(engine, _create(engine, variants={"en": "Hi", "uz": "Salom"}))
    assert templates.pick("UZ-Latn").render({}).text == "Salom"


def test_an_arm_picks_its_own_variant(engine):
    templates = _set(engine, _create(engine, variants={"en": "Hi", "ru": "Привет"},
                                     arms={"B": {"en": "Hey", "ru": "Здравствуйте"}}))
    assert templates.pick("ru", "B").render({}).text == "Здравствуйте"


def test_an_arm_without_the_recipients_language_gets_its_default_language(engine):
    templates = _set(engine, _create(engine, variants={"en": "Hi", "ru": "Привет"}, arms={"B": {"en": "Hey"}}))
    assert templates.pick("ru", "B").render({}).text == "Hey"


def test_the_set_lists_its_arms(engine):
    templates = _set(engine, _create(engine, arms={"C": {"en": "Yo"}, "B": {"en": "Hey"}}))
    assert templates.arms == ["A", "B", "C"]


def test_an_unknown_arm_is_a_lookup_error(engine):
    templates = _set(engine, _create(engine))
    with pytest.raises(LookupError, match="has no arm 'B'"):
        templates.pick("en", "B")


def test_for_language_is_arm_a(engine):
    templates = _set(engine, _create(engine, variants={"en": "Hi"}, arms={"B": {"en": "Hey"}}))
    assert templates.for_language("en").render({}).text == "Hi"


def test_get_shows_each_variant_with_its_encoding_and_parts(engine):
    template_id = _create(engine, variants={"en": "Hi {{ first_name }}", "ru": "Привет " * 20})
    with engine.connect() as conn:
        template = store.get(conn, template_id)
    assert (template["name"], template["default_language"]) == ("welcome", "en")
    assert [(v["language"], v["arm"], v["encoding"], v["parts"]) for v in template["variants"]] == [
        ("en", "A", "gsm7", 1), ("ru", "A", "ucs2", 3)]
    assert template["variants"][0]["body"] == "Hi {{ first_name }}"


def test_get_of_a_missing_template_is_a_lookup_error(engine):
    with engine.connect() as conn, pytest.raises(LookupError, match="no template with id 99"):
        store.get(conn, 99)


def test_list_all_shows_languages_and_arms(engine):
    first = _create(engine, name="one", variants={"en": "Hi", "ru": "Привет"})
    second = _create(engine, name="two", arms={"B": {"en": "Hey"}})
    with engine.connect() as conn:
        listed = [(t["id"], t["name"], t["languages"], t["arms"]) for t in store.list_all(conn)]
    assert listed == [(first, "one", ["en", "ru"], ["A"]), (second, "two", ["en"], ["A", "B"])]


def test_update_replaces_the_variants(engine):
    template_id = _create(engine, variants={"en": "Hi", "ru": "Привет"})
    with engine.begin() as conn:
        store.update(conn, template_id, {"en": "Hello"}, arms={"B": {"en": "Hey"}}, actor="bob")
    templates = _set(engine, template_id)
    assert (templates.pick("ru").render({}).text, templates.arms) == ("Hello", ["A", "B"])


def test_update_checks_variants_like_create(engine):
    template_id = _create(engine)
    with engine.begin() as conn, pytest.raises(TemplateError, match=r"^variant 'en': line 1, column 7: unknown field"):
        store.update(conn, template_id, {"en": "Hi {{ frist_name }}"}, actor="bob")


def test_update_is_audited(engine):
    template_id = _create(engine)
    with engine.begin() as conn:
        store.update(conn, template_id, {"en": "Hello", "uz": "Salom"}, actor="bob")
    with engine.connect() as conn:
        entry = conn.execute(select(AuditEntry.__table__).where(AuditEntry.action == "template.update")).one()
    assert (entry.actor, entry.details["languages"]) == ("bob", ["en", "uz"])


def test_update_of_a_missing_template_is_a_lookup_error(engine):
    with engine.begin() as conn, pytest.raises(LookupError, match="no template with id 7"):
        store.update(conn, 7, {"en": "Hi"}, actor="bob")


def test_a_template_in_a_running_campaign_cannot_be_changed(engine):
    template_id = _create(engine)
    with engine.begin() as conn:
        segment_id = conn.execute(insert(Segment.__table__).values(name="all", definition={"and": []})
                                  ).inserted_primary_key[0]
        conn.execute(insert(Campaign.__table__).values(name="c", segment_id=segment_id, template_id=template_id,
                                                       sender_id="Engage", status="running", set_aside={}))
    with engine.begin() as conn, pytest.raises(ValueError, match=r"used by campaign 1 'c' \(running\)"):
        store.update(conn, template_id, {"en": "Hello"}, actor="bob")


def test_a_template_has_at_most_10_arms(engine):
    arms = {f"B{n}": {"en": "Hey"} for n in range(10)}
    with pytest.raises(ValueError, match=r"^11 arms: a template has at most 10$"):
        _create(engine, arms=arms)


def test_a_template_has_at_most_50_variants_all_arms_together(engine):
    languages = [a + b for a in "abcdefgh" for b in "abcdefgh"][:26]
    arms = {"B": {lang: "Hey" for lang in ["en", *languages]}}
    with pytest.raises(ValueError, match=r"^52 variants: a template has at most 50, all arms together$"):
        _create(engine, variants={"en": "Hi", **{lang: "Hi" for lang in languages[:24]}}, arms=arms)


def test_a_variant_over_5000_characters_is_refused_naming_it(engine):
    with pytest.raises(TemplateError, match=r"^variant 'ru': the text is over 5,000 characters \(5,001 given\)$"):
        _create(engine, variants={"en": "Hi", "ru": "x" * 5001})
