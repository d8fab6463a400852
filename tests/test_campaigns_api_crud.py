"""PUT and DELETE /api/v1/campaigns/N and DELETE /api/v1/templates/N over real HTTP, and the pages
that mirror them: a draft is changed or deleted by a campaign maker of its branch; past its draft
it is a 409 saying why; bad input is a 400 with the engine's message and the field, the very text the
wizard shows beside that field for the same input."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from sqlalchemy import select

from engage.engine.campaigns import lifecycle
from engage.engine.segments import store as segments
from engage.engine.store.schema import AuditEntry
from tests.campaign_setup import add_subscribers
from tests.fixtures.web import serving, signed_in
from tests.test_audience_api import _call

BAD_SENDER = "sender id 'MyVeryLongBrand': alphanumeric sender ids have at most 11 characters"


@pytest.fixture
def api(engine):
    add_subscribers(engine, 3)
    with engine.begin() as conn:
        segments.create(conn, "everyone", {"kind": "all"}, actor="t")
    with serving(engine, tokens="hq-token,north-token@north") as base:
        yield engine, base


def template(base, name="hi"):
    status, body = _call(base, "/api/v1/templates", {"name": name, "default_language": "en",
                                                     "variants": {"en": "Hi {{ first_name }}"}})
    assert status == 201, body
    return body["template_id"]


def draft(base, token="hq-token", **extra):
    status, body = _call(base, "/api/v1/campaigns", {"name": "offer", "segment_id": 1, "template_id": template(base),
                                                     "sender_id": "Shop", **extra}, token=token)
    assert status == 201, body
    return body["campaign_id"]


def put(base, campaign_id, body, token="hq-token"):
    return _call(base, f"/api/v1/campaigns/{campaign_id}", body, token=token, method="PUT")


def delete(base, path, token="hq-token"):
    return _call(base, path, token=token, method="DELETE")


def session_call(browser, method, path, body=None):
    """A signed-in page's XHR: the session cookie and the X-XSRFToken header."""
    headers = {"Content-Type": "application/json", "X-XSRFToken": browser.cookie("_xsrf") or browser.xsrf()}
    reply = browser.request(method, path, None if body is None else json.dumps(body).encode(), headers)
    return reply.status, reply.json()


def wizard_fields(**changes):
    fields = {"name": "offer", "segment": "1", "template": "1", "sender": "Shop", "kind": "marketing",
              "schedule": "now", "quiet_hours": ""}
    return {**fields, **changes}


def beside(html, input_name):
    """The message the page shows beside one input, if any."""
    found = re.search(rf'<span class="field-error error" id="error-{input_name}">([^<]*)</span>', html)
    return unescape(found.group(1)) if found else None


def test_a_draft_is_changed_and_the_answer_says_what_changed(api):
    _, base = api
    campaign_id = draft(base)
    status, body = put(base, campaign_id, {"sender_id": "Bazaar", "max_rate": 20})
    assert status == 200
    assert body["changes"] == {"sender_id": {"before": "Shop", "after": "Bazaar"},
                               "max_rate": {"before": None, "after": 20}}
    assert _call(base, f"/api/v1/campaigns/{campaign_id}")[1]["sender_id"] == "Bazaar"


def test_a_change_by_a_signed_in_marketer_is_audited_under_their_email(api):
    engine, base = api
    campaign_id = draft(base)
    browser = signed_in(engine, base, "marketer")
    assert session_call(browser, "PUT", f"/api/v1/campaigns/{campaign_id}", {"name": "Spring"})[0] == 200
    with engine.connect() as conn:
        actor = conn.execute(select(AuditEntry.actor).where(AuditEntry.action == "campaign.update")).scalar_one()
    assert actor == "marketer@example.com"


def test_a_bad_sender_id_is_a_400_with_the_message_and_the_field(api):
    _, base = api
    campaign_id = draft(base)
    assert put(base, campaign_id, {"sender_id": "MyVeryLongBrand"}) == (
        400, {"error": BAD_SENDER, "field": "sender_id"})


def test_an_unknown_field_is_a_400_naming_it(api):
    _, base = api
    status, body = put(base, draft(base), {"colour": "red"})
    assert status == 400 and body["error"].startswith("colour: not a campaign field")


def test_a_change_without_fields_is_a_400(api):
    _, base = api
    status, body = put(base, draft(base), {})
    assert status == 400 and body["error"].startswith("body: give the fields to change")


def test_changing_a_scheduled_campaign_is_a_409_saying_why(api):
    engine, base = api
    campaign_id = draft(base)
    lifecycle.perform(engine, campaign_id, "submit", actor="admin")
    status, body = put(base, campaign_id, {"sender_id": "Bazaar"})
    assert status == 409
    assert body["error"] == (f"campaign {campaign_id} is scheduled: only a draft can be changed; "
                             f"cancel it and make a new draft")


def test_another_branchs_draft_is_a_404_to_change_and_to_delete(api):
    _, base = api
    campaign_id = draft(base)
    assert put(base, campaign_id, {"sender_id": "Bazaar"}, token="north-token")[0] == 404
    assert delete(base, f"/api/v1/campaigns/{campaign_id}", token="north-token")[0] == 404
    assert _call(base, f"/api/v1/campaigns/{campaign_id}")[1]["sender_id"] == "Shop"


def test_an_approver_may_neither_change_nor_delete_a_draft(api):
    engine, base = api
    campaign_id = draft(base)
    browser = signed_in(engine, base, "approver")
    assert session_call(browser, "PUT", f"/api/v1/campaigns/{campaign_id}", {"name": "x"})[0] == 403
    assert session_call(browser, "DELETE", f"/api/v1/campaigns/{campaign_id}")[0] == 403


def test_a_draft_is_deleted_and_is_then_not_found(api):
    _, base = api
    campaign_id = draft(base)
    assert delete(base, f"/api/v1/campaigns/{campaign_id}") == (200, {"campaign_id": campaign_id, "deleted": True})
    assert _call(base, f"/api/v1/campaigns/{campaign_id}")[0] == 404


def test_deleting_a_launched_campaign_is_a_409_saying_why(api):
    _, base = api
    campaign_id = draft(base)
    assert _call(base, f"/api/v1/campaigns/{campaign_id}/launch", {})[0] == 200
    status, body = delete(base, f"/api/v1/campaigns/{campaign_id}")
    assert status == 409 and body["error"].startswith(f"campaign {campaign_id} is running: only a draft can be deleted")


def test_deleting_a_template_a_campaign_uses_is_a_409_naming_the_campaign(api):
    _, base = api
    campaign_id = draft(base)
    status, body = delete(base, "/api/v1/templates/1")
    assert status == 409
    assert body["error"] == (f"template 1 is used by campaign {campaign_id} 'offer' (draft): "
                             f"delete that draft or give it another template first")


def test_an_unused_template_is_deleted(api):
    _, base = api
    template_id = template(base, "spare")
    assert delete(base, f"/api/v1/templates/{template_id}") == (200, {"template_id": template_id, "deleted": True})
    assert _call(base, f"/api/v1/templates/{template_id}")[0] == 404


def test_deleting_a_template_that_does_not_exist_is_a_404(api):
    _, base = api
    assert delete(base, "/api/v1/templates/999") == (404, {"error": "no template with id 999"})


def test_the_wizard_shows_beside_the_sender_the_message_the_api_gives(api):
    engine, base = api
    template(base)
    status, body = _call(base, "/api/v1/campaigns", {"name": "offer", "segment_id": 1, "template_id": 1,
                                                     "sender_id": "MyVeryLongBrand"})
    browser = signed_in(engine, base, "marketer")
    page = browser.post_form("/campaigns/new", wizard_fields(sender="MyVeryLongBrand"))
    assert (status, body["error"]) == (400, BAD_SENDER)
    assert beside(page.body, "sender") == body["error"]
    assert 'name="sender" value="MyVeryLongBrand"' in page.body


def test_the_edit_page_shows_beside_the_quiet_hours_the_message_the_api_gives(api):
    engine, base = api
    campaign_id = draft(base)
    status, body = put(base, campaign_id, {"quiet_hours": "25:00-01:00"})
    browser = signed_in(engine, base, "marketer")
    page = browser.post_form(f"/campaigns/{campaign_id}/edit", wizard_fields(quiet_hours="25:00-01:00"))
    assert status == 400 and body["field"] == "quiet_hours"
    assert beside(page.body, "quiet_hours") == body["error"]


def test_the_edit_page_opens_with_the_drafts_saved_values(api):
    engine, base = api
    campaign_id = draft(base, max_rate=25, control_share=0.1, cap={"count": 2, "days": 7})
    page = signed_in(engine, base, "marketer").get(f"/campaigns/{campaign_id}/edit").body
    for name, value in (("name", "offer"), ("sender", "Shop"), ("max_rate", "25"), ("control_percent", "10"),
                        ("cap_count", "2"), ("cap_days", "7")):
        assert re.search(rf'name="{name}"[^>]* value="{value}"', page), name


def test_saving_the_edit_page_changes_the_draft_and_returns_to_it(api):
    engine, base = api
    campaign_id = draft(base, max_rate=25)
    browser = signed_in(engine, base, "marketer")
    reply = browser.post_form(f"/campaigns/{campaign_id}/edit", wizard_fields(sender="Bazaar"))
    assert reply.status == 302 and reply.headers["Location"].startswith(f"/campaigns/{campaign_id}?done=saved")
    saved = _call(base, f"/api/v1/campaigns/{campaign_id}")[1]
    assert (saved["sender_id"], saved["max_rate"]) == ("Bazaar", None)  # the emptied field: back to no limit


def test_the_edit_page_of_a_submitted_campaign_sends_back_to_it_with_the_reason(api):
    engine, base = api
    campaign_id = draft(base)
    lifecycle.perform(engine, campaign_id, "submit", actor="admin")
    reply = signed_in(engine, base, "marketer").get(f"/campaigns/{campaign_id}/edit")
    assert reply.status == 302 and "only+a+draft+can+be+changed" in reply.headers["Location"]


def test_a_drafts_page_offers_edit_and_delete_to_makers_only(api):
    engine, base = api
    campaign_id = draft(base)
    as_maker = signed_in(engine, base, "marketer").get(f"/campaigns/{campaign_id}").body
    as_approver = signed_in(engine, base, "approver").get(f"/campaigns/{campaign_id}").body
    assert 'id="edit"' in as_maker and 'id="delete-draft"' in as_maker
    assert 'id="edit"' not in as_approver and 'id="delete-draft"' not in as_approver


def test_deleting_from_the_page_needs_the_xsrf_token(api):
    engine, base = api
    campaign_id = draft(base)
    browser = signed_in(engine, base, "marketer")
    assert browser.post_form(f"/campaigns/{campaign_id}/delete", {}, xsrf=False).status == 403
    reply = browser.post_form(f"/campaigns/{campaign_id}/delete", {})
    assert reply.status == 303 and reply.headers["Location"].startswith("/campaigns?")
    assert _call(base, f"/api/v1/campaigns/{campaign_id}")[0] == 404


def test_the_campaign_list_says_which_draft_was_deleted(api):
    engine, base = api
    campaign_id = draft(base)
    browser = signed_in(engine, base, "marketer")
    reply = browser.post_form(f"/campaigns/{campaign_id}/delete", {})
    page = unescape(browser.get(reply.headers["Location"]).body)
    assert re.search(r'id="done">draft “[^”]+” deleted<', page)


def test_only_makers_are_offered_a_new_campaign(api):
    engine, base = api
    assert 'id="new-campaign"' in signed_in(engine, base, "marketer").get("/campaigns").body
    assert 'id="new-campaign"' not in signed_in(engine, base, "analyst").get("/campaigns").body


def test_deleting_a_template_from_its_page_while_a_campaign_uses_it_shows_why(api):
    engine, base = api
    campaign_id = draft(base)
    browser = signed_in(engine, base, "marketer")
    reply = browser.post_form("/templates/1/delete", {})
    assert reply.status == 302
    page = unescape(browser.get(reply.headers["Location"]).body)
    assert f"template 1 is used by campaign {campaign_id} 'offer' (draft)" in page


def test_the_template_editor_keeps_a_bad_language_and_shows_beside_it_the_message_the_api_gives(api):
    engine, base = api
    status, body = _call(base, "/api/v1/templates", {"name": "hi", "variants": {"en": "Hi", "english": "Hello"}})
    browser = signed_in(engine, base, "marketer")
    page = browser.post_form("/templates/new", {"name": "hi", "default_language": "en", "body.en.A": "Hi",
                                                "body.english.A": "Hello"}).body
    assert (status, body["error"]) == (400, "variant 'english': 'english' is not a language code (e.g. en, ru, uz, "
                                            "pt-BR)")
    variant = re.search(r'<fieldset class="variant" aria-invalid="true">(.*?)</fieldset>', page, re.S).group(1)
    shown = re.search(r'<p class="field-error error save-error">([^<]*)</p>', variant).group(1)
    assert unescape(shown) == body["error"]
    assert '<textarea name="body.english.A" rows="4" cols="80">Hello</textarea>' in variant
