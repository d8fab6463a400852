"""A campaign can be changed and deleted while it is a draft, and only then: a change is checked as a
new campaign is and audited with what changed; a deletion leaves the audit log with what was deleted.
A template is deleted only when no campaign uses it, and the refusal names the campaign."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engage.engine.campaigns import CampaignError, lifecycle, records
from engage.engine.campaigns.trial_sends import send_test
from engage.engine.segments import store as segments
from engage.engine.store.schema import AuditEntry, Campaign, Template, TemplateVariant
from engage.engine.templates import store as templates
from tests.campaign_setup import EVERYONE, add_subscribers, make_campaign


@pytest.fixture
def db(engine):
    add_subscribers(engine, 3)
    return engine


def row(engine, campaign_id):
    with engine.connect() as conn:
        return conn.execute(select(Campaign.__table__).where(Campaign.id == campaign_id)).first()


def audit_details(engine, action, object_id):
    with engine.connect() as conn:
        return [(a.actor, a.details) for a in conn.execute(select(AuditEntry.actor, AuditEntry.details).where(
            AuditEntry.action == action, AuditEntry.object_id == str(object_id)).order_by(AuditEntry.id))]


def update(engine, campaign_id, **fields):
    with engine.begin() as conn:
        return records.update_draft(conn, campaign_id, actor="mara", **fields)


def delete(engine, campaign_id):
    with engine.begin() as conn:
        records.delete_draft(conn, campaign_id, actor="mara")


def test_a_draft_takes_the_new_values_given(db):
    campaign_id = make_campaign(db)
    update(db, campaign_id, name="Spring offer", sender_id="Bazaar", quiet_hours="22:00-08:00", max_rate=50)
    changed = row(db, campaign_id)
    assert (changed.name, changed.sender_id, changed.quiet_hours, changed.max_rate) == (
        "Spring offer", "Bazaar", "22:00-08:00", 50)


def test_fields_not_given_keep_their_values_and_an_option_given_as_none_goes_back_to_its_default(db):
    campaign_id = make_campaign(db, max_rate=10, control_share=0.2, quiet_hours="21:00-09:00")
    update(db, campaign_id, max_rate=None, control_share=None)
    changed = row(db, campaign_id)
    assert (changed.max_rate, changed.control_share) == (None, 0.0)
    assert (changed.name, changed.sender_id, changed.quiet_hours) == ("offer", "Shop", "21:00-09:00")


def test_a_change_is_audited_with_each_field_before_and_after(db):
    campaign_id = make_campaign(db)
    update(db, campaign_id, sender_id="Bazaar", cap={"count": 1, "days": 7})
    assert audit_details(db, "campaign.update", campaign_id) == [("mara", {
        "name": "offer", "changes": {"sender_id": {"before": "Shop", "after": "Bazaar"},
                                     "cap": {"before": None, "after": {"count": 1, "days": 7}}}})]


def test_a_change_to_the_same_values_writes_nothing(db):
    campaign_id = make_campaign(db)
    assert update(db, campaign_id, name="offer", sender_id="Shop") == {}
    assert audit_details(db, "campaign.update", campaign_id) == []


def test_a_bad_sender_id_is_refused_with_the_message_a_new_campaign_gets(db):
    campaign_id = make_campaign(db)
    with pytest.raises(CampaignError) as refused:
        update(db, campaign_id, sender_id="MyVeryLongBrand")
    assert str(refused.value) == "sender id 'MyVeryLongBrand': alphanumeric sender ids have at most 11 characters"
    assert refused.value.field == "sender_id"
    assert row(db, campaign_id).sender_id == "Shop"


def test_a_bad_option_is_refused_naming_it(db):
    campaign_id = make_campaign(db)
    with pytest.raises(CampaignError, match=r"^quiet_hours: ") as refused:
        update(db, campaign_id, quiet_hours="25:00-01:00")
    assert refused.value.field == "quiet_hours"


def test_an_unknown_field_is_refused_naming_it(db):
    campaign_id = make_campaign(db)
    with pytest.raises(CampaignError, match=r"^colour: not a campaign field"):
        update(db, campaign_id, colour="red")


def test_the_arms_kept_are_checked_against_a_new_template(db):
    halves = [{"arm": "A", "share": 50}, {"arm": "B", "share": 50}]
    campaign_id = make_campaign(db, variants={"B": "Hello"}, arms=halves)
    with db.begin() as conn:
        plain = templates.create(conn, "plain", {"en": "Hi"}, default_language="en", actor="mara")
    with pytest.raises(CampaignError, match=rf"^arms: template {plain} has no variant for arm 'B'"):
        update(db, campaign_id, template_id=plain)


def test_a_branch_draft_cannot_take_another_branchs_segment(db):
    campaign_id = make_campaign(db)
    with db.begin() as conn:
        conn.execute(Campaign.__table__.update().where(Campaign.id == campaign_id).values(branch="north"))
        south = segments.create(conn, "south people", EVERYONE, actor="mara", branch="south")
    with pytest.raises(CampaignError, match=rf"^segment {south} belongs to another branch"):
        update(db, campaign_id, segment_id=south)


def test_a_campaign_waiting_for_approval_cannot_be_changed_and_the_message_says_what_to_do(db):
    campaign_id = make_campaign(db)
    lifecycle.perform(db, campaign_id, "submit", actor="mara", role="marketer")
    with pytest.raises(records.NotADraft) as refused:
        update(db, campaign_id, sender_id="Bazaar")
    assert str(refused.value) == (f"campaign {campaign_id} is awaiting_approval: only a draft can be changed; "
                                  f"an approver can reject it back to draft first")


def test_a_scheduled_campaign_cannot_be_changed(db):
    campaign_id = make_campaign(db)
    lifecycle.perform(db, campaign_id, "submit", actor="admin")
    with pytest.raises(records.NotADraft, match=rf"^campaign {campaign_id} is scheduled: only a draft can be "
                                                r"changed; cancel it and make a new draft"):
        update(db, campaign_id, sender_id="Bazaar")


def test_a_campaign_rejected_back_to_draft_can_be_changed_again(db):
    campaign_id = make_campaign(db)
    lifecycle.perform(db, campaign_id, "submit", actor="mara", role="marketer")
    lifecycle.perform(db, campaign_id, "reject", actor="anna", reason="wrong sender")
    update(db, campaign_id, sender_id="Bazaar")
    assert row(db, campaign_id).sender_id == "Bazaar"


def test_a_draft_is_deleted_and_the_audit_log_keeps_what_it_was(db):
    campaign_id = make_campaign(db, max_rate=20)
    delete(db, campaign_id)
    assert row(db, campaign_id) is None
    [(actor, details)] = audit_details(db, "campaign.delete", campaign_id)
    assert actor == "mara"
    assert (details["name"], details["sender_id"], details["max_rate"]) == ("offer", "Shop", 20)


def test_a_launched_campaign_cannot_be_deleted(db):
    campaign_id = make_campaign(db)
    lifecycle.perform(db, campaign_id, "launch", actor="admin")
    with pytest.raises(records.NotADraft, match=rf"^campaign {campaign_id} is running: only a draft can be deleted; "
                                                r"cancel it instead"):
        delete(db, campaign_id)
    assert row(db, campaign_id) is not None


def test_a_cancelled_campaign_cannot_be_deleted(db):
    campaign_id = make_campaign(db)
    lifecycle.perform(db, campaign_id, "cancel", actor="mara")
    with pytest.raises(records.NotADraft, match=r"is cancelled: only a draft can be deleted; its history is kept"):
        delete(db, campaign_id)


def test_deleting_a_draft_keeps_its_test_sends_which_are_campaigns_of_their_own(db):
    campaign_id = make_campaign(db)
    test_id = send_test(db, campaign_id, ["+998901234567"], actor="mara")["test_campaign_id"]
    delete(db, campaign_id)
    assert row(db, campaign_id) is None
    assert (row(db, test_id).kind, row(db, test_id).audience_size) == ("test", 1)


def test_a_template_a_draft_uses_cannot_be_deleted_and_the_refusal_names_the_campaign(db):
    campaign_id = make_campaign(db)
    template_id = row(db, campaign_id).template_id
    with db.begin() as conn, pytest.raises(templates.TemplateInUse) as refused:
        templates.delete(conn, template_id, actor="mara")
    assert str(refused.value) == (f"template {template_id} is used by campaign {campaign_id} 'offer' (draft): "
                                  f"delete that draft or give it another template first")


def test_a_template_a_finished_campaign_used_is_kept_for_its_history(db):
    campaign_id = make_campaign(db)
    lifecycle.perform(db, campaign_id, "cancel", actor="mara")
    template_id = row(db, campaign_id).template_id
    with db.begin() as conn, pytest.raises(templates.TemplateInUse, match=r"\(cancelled\): its history refers to it"):
        templates.delete(conn, template_id, actor="mara")


def test_a_template_is_deleted_once_its_draft_is_deleted_and_the_audit_log_keeps_its_variants(db):
    campaign_id = make_campaign(db)
    template_id = row(db, campaign_id).template_id
    delete(db, campaign_id)
    with db.begin() as conn:
        templates.delete(conn, template_id, actor="mara")
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Template).where(Template.id == template_id)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(TemplateVariant).where(
            TemplateVariant.template_id == template_id)).scalar() == 0
    [(_, details)] = audit_details(db, "template.delete", template_id)
    assert details["variants"] == [{"language": "en", "arm": "A", "body": "Hi {{ first_name }}"}]


def test_deleting_a_template_that_does_not_exist_says_so(db):
    with db.begin() as conn, pytest.raises(LookupError, match="no template with id 999"):
        templates.delete(conn, 999, actor="mara")
