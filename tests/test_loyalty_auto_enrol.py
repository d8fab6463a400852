"""Enrolment by segment: whoever a saved segment selects joins, once from the command line or every
hour by itself for a programme whose settings name the segment; newcomers who come to match join
later, a member who left is not enrolled again, and a segment deleted since is reported, not raised."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from engage.engine.loyalty import auto_enrol, members, programmes
from engage.engine.loyalty.programmes import ENROL_SEGMENT, ProgrammeError
from engage.engine.segments import store as segment_store
from engage.engine.store.schema import AuditEntry, LoyaltyMember, Subscriber

TASHKENT = {"kind": "number_prefix", "prefixes": ["+99890"]}


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    """A programme, a segment of +99890 numbers, two such subscribers and one of +99891."""
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": n} for n in ("+998900000001", "+998900000002", "+998910000003")])
        club = programmes.create(conn, "club", "Club")
        segment = segment_store.create(conn, "tashkent", TASHKENT, actor="ana")
    return club, segment


def enrolled(engine, club) -> dict[str, str]:  # noqa: ANN001
    with engine.connect() as conn:
        return dict(conn.execute(select(Subscriber.msisdn, LoyaltyMember.enrolled_via).join(
            LoyaltyMember, LoyaltyMember.subscriber_id == Subscriber.id).where(
            LoyaltyMember.programme_id == club.id)).all())


def test_the_segments_subscribers_join_by_segment_and_no_one_else(engine, club) -> None:  # noqa: ANN001
    programme, segment = club
    assert auto_enrol.enrol_segment(engine, programme.id, segment) == {"selected_not_members": 2, "enrolled": 2}
    assert enrolled(engine, programme) == {"+998900000001": "segment", "+998900000002": "segment"}


def test_enrolling_again_finds_no_one_new(engine, club) -> None:  # noqa: ANN001
    programme, segment = club
    auto_enrol.enrol_segment(engine, programme.id, segment)
    assert auto_enrol.enrol_segment(engine, programme.id, segment) == {"selected_not_members": 0, "enrolled": 0}


def test_the_hourly_job_enrols_a_newcomer_who_comes_to_match(engine, club) -> None:  # noqa: ANN001
    programme, segment = club
    with engine.begin() as conn:
        programmes.update(conn, programme.id, {ENROL_SEGMENT: segment})
    assert auto_enrol.enrol_due(engine) == {"club": {"selected_not_members": 2, "enrolled": 2}}
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": "+998900000009"}])
    assert auto_enrol.enrol_due(engine) == {"club": {"selected_not_members": 1, "enrolled": 1}}
    assert "+998900000009" in enrolled(engine, programme)


def test_a_programme_naming_no_segment_enrols_no_one(engine, club) -> None:  # noqa: ANN001
    assert auto_enrol.enrol_due(engine) == {}
    assert enrolled(engine, club[0]) == {}


def test_a_member_who_left_is_not_enrolled_again(engine, club) -> None:  # noqa: ANN001
    programme, segment = club
    auto_enrol.enrol_segment(engine, programme.id, segment)
    with engine.begin() as conn:
        member = conn.execute(select(LoyaltyMember.id).limit(1)).scalar_one()
        members.set_status(conn, member, "closed")
    auto_enrol.enrol_segment(engine, programme.id, segment)
    with engine.connect() as conn:
        assert conn.execute(select(LoyaltyMember.status).where(LoyaltyMember.id == member)).scalar_one() == "closed"


def test_a_setting_naming_no_saved_segment_is_refused(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn, pytest.raises(ProgrammeError) as refused:
        programmes.update(conn, club[0].id, {ENROL_SEGMENT: 999})
    assert refused.value.field == ENROL_SEGMENT and "999" in str(refused.value)


def test_a_segment_deleted_since_is_reported_and_the_job_goes_on(engine, club) -> None:  # noqa: ANN001
    programme, segment = club
    with engine.begin() as conn:
        programmes.update(conn, programme.id, {ENROL_SEGMENT: segment})
        segment_store.remove(conn, segment, actor="ana", branch=None)
    assert "does not exist" in auto_enrol.enrol_due(engine)["club"]["error"]


def test_the_command_enrols_a_segment_and_is_audited(engage_cli, engine, club) -> None:  # noqa: ANN001
    programme, segment = club
    code, out, _ = engage_cli("loyalty", "enrol", "club", "--segment", str(segment))
    assert (code, out) == (0, [{"programme": "club", "segment": segment, "selected_not_members": 2, "enrolled": 2}])
    with engine.connect() as conn:
        assert conn.execute(select(AuditEntry.action).where(AuditEntry.action == "loyalty.enrol")).scalar_one()


def test_the_command_names_a_segment_that_does_not_exist(engage_cli, club) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as refused:
        engage_cli("loyalty", "enrol", "club", "--segment", "999")
    assert str(refused.value) == "error: --segment: segment 999 does not exist"
