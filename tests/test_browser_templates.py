"""The template editor in the browser: the encoding and parts counter follows what is typed (a
Cyrillic letter turns GSM-7 into UCS-2), a mistake shows with its line and column, and saving
stores the variants a campaign then sends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.engine.store.schema import Template, TemplateVariant
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user


@pytest.fixture
def editor(site, quick_hashes, page):
    engine, base = site
    add_user(engine, "mara@example.com", "marketer")
    sign_in(page, base, "mara@example.com", "/templates/new")
    return engine, page


def test_the_parts_counter_turns_to_ucs2_when_a_cyrillic_letter_is_typed(editor):
    _, page = editor
    box = page.locator("fieldset.variant textarea").first
    box.fill("Hi {{ first_name }}, your bonus is ready")
    meter = page.locator("fieldset.variant .meter").first
    meter.filter(has_text="GSM-7").wait_for()
    assert meter.inner_text().endswith("1 part")
    box.type(" Ж")
    meter.filter(has_text="UCS-2").wait_for()
    assert "because of Ж" in meter.inner_text()
    box.fill("x" * 161)
    meter.filter(has_text="2 parts").wait_for()
    screenshot(page, "template-editor")


def test_a_mistake_is_shown_with_its_line_and_column_as_it_is_typed(editor):
    _, page = editor
    page.locator("fieldset.variant textarea").first.fill("Hello\n{{ frist_name }}")
    preview = page.locator("fieldset.variant .preview.error").first
    preview.wait_for()
    assert preview.inner_text().startswith("line 2, column 4: unknown field 'frist_name'")


def test_saving_stores_each_language_variant(editor):
    engine, page = editor
    page.fill("input[name=name]", "Welcome")
    page.locator("fieldset.variant textarea").first.fill("Hi {{ first_name | default('friend') }}")
    page.click("#add-variant")
    second = page.locator("fieldset.variant").nth(1)
    second.locator(".lang").fill("ru")
    second.locator("textarea").fill("Привет, {{ first_name | default('друг') }}")
    page.click("#save")
    page.locator("#done").wait_for()
    with engine.connect() as conn:
        template_id = conn.execute(select(Template.id).where(Template.name == "Welcome")).scalar_one()
        variants = dict(conn.execute(select(TemplateVariant.language, TemplateVariant.body).where(
            TemplateVariant.template_id == template_id)).all())
    assert variants == {"en": "Hi {{ first_name | default('friend') }}",
                        "ru": "Привет, {{ first_name | default('друг') }}"}
