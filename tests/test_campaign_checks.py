"""A campaign checked whole before it is saved (campaigns.checks, campaigns.timing): every mistake at
once, one per field; a schedule with no time left refused at save in a sentence that names the time
in its zone; a send time inside quiet hours accepted with a warning of when it goes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engage.engine import campaigns
from engage.engine.campaigns import timing
from engage.engine.campaigns.checks import problems
from engage.engine.segments import store as segments
from engage.engine.templates import store as templates

NOW = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # 19:00 in Tashkent


@pytest.fixture
def parts(engine):
    with engine.begin() as conn:
        segment_id = segments.create(conn, "all", {"kind": "all"}, actor="t")
        template_id = templates.create(conn, "t", {"en": "Hi"}, default_language="en", actor="t")
    return engine, segment_id, template_id


def fields(segment_id, template_id, **over):
    return {"name": "Spring", "segment_id": segment_id, "template_id": template_id, "sender_id": "Shop", **over}


def test_every_mistake_is_found_at_once_one_per_field(parts):
    engine, segment_id, template_id = parts
    with engine.connect() as conn:
        values, found = problems(conn, fields(segment_id, template_id, name=" ", sender_id="MyVeryLongBrand"),
                                 {"max_parts": 40, "quiet_hours": "25:00-09:00", "arms": [{"arm": "A", "share": 50},
                                                                                          {"arm": "B", "share": 50}]},
                                 template_id=template_id, branch=None, now=NOW)
    assert sorted(e.field for e in found) == ["arms", "max_parts", "name", "quiet_hours", "sender_id"]
    assert values["segment_id"] == segment_id and values["template_id"] == template_id  # what was right is kept


def test_a_missing_segment_or_template_is_asked_for_in_words(parts):
    engine, _, _ = parts
    with engine.connect() as conn:
        _, found = problems(conn, fields(0, 0), {}, template_id=0, branch=None, now=NOW)
    assert [str(e) for e in found] == ["segment_id: choose the segment to send to",
                                       "template_id: choose the template to send"]


def test_a_send_time_in_the_past_is_refused_at_save_naming_it_in_its_zone(parts):
    engine, segment_id, template_id = parts
    with engine.begin() as conn, pytest.raises(campaigns.CampaignError) as refused:
        campaigns.create(conn, **fields(segment_id, template_id), actor="m", now=NOW,
                         schedule={"kind": "at", "at": "2026-12-07T18:55"})
    assert str(refused.value) == ("schedule: at: 2026-12-07 18:55 Asia/Tashkent (UTC+05:00) is in the past "
                                  "(it is now 2026-12-07 19:00 Asia/Tashkent (UTC+05:00)); choose a later time")
    assert refused.value.field == "schedule"


def test_quiet_hours_covering_the_whole_deadline_are_refused_at_save(parts):
    engine, segment_id, template_id = parts
    with engine.begin() as conn, pytest.raises(campaigns.CampaignError) as refused:
        campaigns.create(conn, **fields(segment_id, template_id), actor="m", now=NOW, quiet_hours="21:00-09:00",
                         deadline_minutes=120, schedule={"kind": "at", "at": "2026-12-07T22:00"})
    assert str(refused.value).startswith("quiet_hours: 21:00-09:00 covers all of the 120 minutes the deadline "
                                         "leaves after the send time (2026-12-07 22:00 Asia/Tashkent")
    assert refused.value.field == "quiet_hours"


def test_a_deadline_reaching_past_quiet_hours_is_accepted(parts):
    engine, segment_id, template_id = parts
    with engine.begin() as conn:
        assert campaigns.create(conn, **fields(segment_id, template_id), actor="m", now=NOW, quiet_hours="21:00-09:00",
                                deadline_minutes=720, schedule={"kind": "at", "at": "2026-12-07T22:00"})


def test_a_send_time_inside_quiet_hours_is_warned_of_with_when_it_goes():
    values = {"schedule": {"kind": "at", "at": "2026-12-07T22:00"}, "quiet_hours": "21:00-09:00"}
    assert timing.warnings(values, "Asia/Tashkent", NOW) == [
        "The send time (2026-12-07 22:00 Asia/Tashkent (UTC+05:00)) is inside quiet hours 21:00-09:00: messages are "
        "held until 2026-12-08 09:00 Asia/Tashkent (UTC+05:00), and later for recipients in zones where quiet hours "
        "last longer."]


def test_a_send_time_outside_quiet_hours_has_no_warning():
    values = {"schedule": {"kind": "at", "at": "2026-12-08T10:00"}, "quiet_hours": "21:00-09:00"}
    assert timing.warnings(values, "Asia/Tashkent", NOW) == []


def test_a_recurring_schedule_that_ended_before_now_is_refused():
    values = {"schedule": {"kind": "daily", "time": "10:00", "until": "2026-12-01T00:00"}}
    assert timing.refusal(values, "Asia/Tashkent", NOW).startswith("schedule: until: it ends before its first time")


def test_the_same_creation_key_gives_the_same_campaign(parts):
    engine, segment_id, template_id = parts
    first = campaigns.records.create_once(engine, creation_key="k1", actor="m", **fields(segment_id, template_id))
    again = campaigns.records.create_once(engine, creation_key="k1", actor="m", **fields(segment_id, template_id))
    other = campaigns.records.create_once(engine, creation_key="k1", actor="n", **fields(segment_id, template_id))
    assert first[1] is True and again == (first[0], False)
    assert other[1] is True and other[0] != first[0]  # a key is the creator's own
