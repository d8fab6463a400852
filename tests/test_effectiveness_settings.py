"""How a campaign's effectiveness is judged (engine.analytics.effectiveness.settings): defaults,
validation naming the field at fault, and an audited change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, update

from engage.engine.analytics.effectiveness import settings as es
from engage.engine.analytics.effectiveness.groups import Group
from engage.engine.segments import store as segments_store
from engage.engine.store.schema import AuditEntry, Campaign, UsageEvent
from tests.campaign_setup import make_campaign


def test_a_campaign_without_settings_is_judged_on_the_defaults(engine):
    campaign_id = make_campaign(engine)
    with engine.connect() as conn:
        found = es.settings_of(conn, campaign_id)
    assert found == es.Judging()
    assert (found.conversion_kind, found.conversion_days, found.response_hours) == ("recharge", 7, 72)
    assert [g.name for g in found.groups] == ["region", "contract_type", "age_band", "tenure_band"]


def test_settings_are_stored_in_full_and_audited(engine):
    campaign_id = make_campaign(engine)
    with engine.begin() as conn:
        es.set_settings(conn, campaign_id, {"conversion": {"kind": "data", "days": 3},
                                            "groups": ["gender", {"field": "age_band", "edges": [30, 50]}]},
                        actor="ana")
    with engine.connect() as conn:
        stored = conn.execute(select(Campaign.analytics).where(Campaign.id == campaign_id)).scalar_one()
        entry = conn.execute(select(AuditEntry).where(AuditEntry.action == "campaign.analytics")).one()
        found = es.settings_of(conn, campaign_id)
    assert stored == {"conversion": {"kind": "data", "days": 3}, "response_hours": 72,
                      "groups": ["gender", {"field": "age_band", "edges": [30, 50]}]}
    assert found.groups == (Group("gender"), Group("age_band", (30, 50)))
    assert (entry.actor, entry.object_id) == ("ana", str(campaign_id))
    assert entry.details["before"]["conversion"] == {"kind": "recharge", "days": 7}
    assert entry.details["after"]["conversion"] == {"kind": "data", "days": 3}


def test_a_kind_of_usage_only_the_data_holds_is_a_conversion(engine):
    campaign_id = make_campaign(engine)
    with engine.begin() as conn:
        conn.execute(insert(UsageEvent.__table__).values(subscriber_id=1, kind="bundle_on", at=datetime.now(UTC),
                                                         amount=1))
        found = es.set_settings(conn, campaign_id, {"conversion": {"kind": "bundle_on"}}, actor="ana")
    assert found.conversion_kind == "bundle_on"


def test_a_kind_of_usage_nobody_has_is_refused_naming_the_field(engine):
    campaign_id = make_campaign(engine)
    with engine.begin() as conn, pytest.raises(es.SettingsError) as refused:
        es.set_settings(conn, campaign_id, {"conversion": {"kind": "teleport"}}, actor="ana")
    assert refused.value.field == "conversion.kind"
    assert "teleport" in str(refused.value)


@pytest.mark.parametrize(("raw", "field", "words"), [
    ({"conversion": {"days": 0}}, "conversion.days", "from 1 to 90"),
    ({"conversion": {"days": 2.5}}, "conversion.days", "whole number"),
    ({"conversion": {"days": True}}, "conversion.days", "whole number"),
    ({"conversion": {"kind": ""}}, "conversion.kind", "usage kind"),
    ({"conversion": {"kind": "recharge", "amount": 5}}, "conversion.amount", "not a setting"),
    ({"conversion": "recharge"}, "conversion", "an object"),
    ({"response_hours": 1000}, "response_hours", "from 1 to 720"),
    ({"response_hours": "72"}, "response_hours", "whole number"),
    ({"groups": "region"}, "groups", "a list"),
    ({"groups": ["region", "shoe_size"]}, "groups[1]", "'shoe_size' is not a group"),
    ({"groups": ["msisdn"]}, "groups[0]", "is not a group"),
    ({"groups": ["region", "region"]}, "groups", "listed twice"),
    ({"groups": [{"field": "region", "edges": [1]}]}, "groups[0].edges", "only bands"),
    ({"groups": [{"field": "age_band", "edges": [50, 30]}]}, "groups[0].edges", "ascending"),
    ({"groups": ["region"] * 9}, "groups", "at most 8"),
    ({"window": 3}, "window", "not a setting"),
    ([1, 2], "analytics", "an object"),
])
def test_a_mistake_is_refused_naming_the_setting_at_fault(raw, field, words):
    with pytest.raises(es.SettingsError) as refused:
        es.parse(raw)
    assert refused.value.field == field
    assert words in str(refused.value)
    assert str(refused.value).startswith(f"{field}: ")


def test_settings_of_a_campaign_that_does_not_exist_say_so(engine):
    with engine.connect() as conn, pytest.raises(LookupError):
        es.settings_of(conn, 999)


def test_a_segment_nobody_saved_is_refused_naming_the_group(engine):
    campaign_id = make_campaign(engine)
    with engine.begin() as conn, pytest.raises(es.SettingsError) as refused:
        es.set_settings(conn, campaign_id, {"groups": ["region", {"segment": 999}]}, actor="analyst")
    assert refused.value.field == "groups[1].segment" and "there is no segment 999" in str(refused.value)


def test_another_branchs_segment_is_not_a_group_of_a_branchs_campaign(engine):
    campaign_id = make_campaign(engine)
    with engine.begin() as conn:
        south = segments_store.create(conn, "South only", {"field": "city", "value": "Termez"}, actor="t",
                                      branch="south")
        conn.execute(update(Campaign).where(Campaign.id == campaign_id).values(branch="north"))
        with pytest.raises(es.SettingsError, match=rf"groups\[0\].segment: there is no segment {south}"):
            es.set_settings(conn, campaign_id, {"groups": [{"segment": south}]}, actor="analyst")


def test_a_segment_group_is_named_by_its_segment():
    group = es.parse({"groups": [{"segment": 4, "name": "Tashkent VIP"}]}).groups[0]
    assert (group.label, group.words("in"), group.words("out"), group.words("")) == (
        "Segment “Tashkent VIP”", "In the segment", "Not in it", "Unknown")
