"""Levels: reached by the points earned in a rolling window, raised at once when points are posted,
lowered only at the programme's review and never within the grace period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from engage.engine.loyalty import ledger, levels, members, programmes
from engage.engine.loyalty.ledger import Credit
from engage.engine.store.schema import LoyaltyMember, LoyaltyProgramme, Subscriber

NOW = datetime(2027, 3, 1, tzinfo=UTC)
LEVELS = {"levels": [{"name": "blue", "min": 0}, {"name": "silver", "min": 1000}, {"name": "gold", "min": 5000}],
          "window_days": 365, "grace_days": 30, "review_every_days": 90}


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).values(id=1, msisdn="+998900000001", attributes={}))
        club = programmes.create(conn, "club", "Club")
        levels.set_levels(conn, club.id, LEVELS, now=NOW - timedelta(days=89))
        members.enrol(conn, club.id, [1], "api")
        return club, conn.execute(select(LoyaltyMember.id)).scalar_one()


def earn(engine, member: int, points: int, key: str, at: datetime = NOW) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        ledger.credit(conn, [Credit(member, points, at, "rule", "usage", key)])


def level(engine) -> tuple[str | None, str | None]:  # noqa: ANN001
    """(the member's level, the subscriber's loyalty_tier)."""
    with engine.connect() as conn:
        return (conn.execute(select(LoyaltyMember.level)).scalar_one(),
                conn.execute(select(Subscriber.loyalty_tier)).scalar_one())


def test_a_new_member_starts_at_the_first_level(engine, club) -> None:  # noqa: ANN001
    assert level(engine)[0] == "blue"


def test_points_that_reach_a_level_raise_the_member_at_once(engine, club) -> None:  # noqa: ANN001
    _, member = club
    earn(engine, member, 600, "a")
    assert level(engine) == ("blue", "blue")
    earn(engine, member, 600, "b")
    assert level(engine) == ("silver", "silver")


def test_points_earned_before_the_window_do_not_count(engine, club) -> None:  # noqa: ANN001
    _, member = club
    earn(engine, member, 900, "old", at=datetime.now(UTC) - timedelta(days=400))
    earn(engine, member, 200, "new", at=datetime.now(UTC))
    assert level(engine)[0] == "blue"


def test_the_review_lowers_a_member_whose_window_no_longer_qualifies(engine, club) -> None:  # noqa: ANN001
    programme, member = club
    earn(engine, member, 1200, "a", at=NOW - timedelta(days=300))
    with engine.begin() as conn:
        conn.execute(update(LoyaltyMember).values(level_since=NOW - timedelta(days=300)))
    assert levels.review(engine, programme.id, NOW + timedelta(days=100)) == {"reviewed": 1, "lowered": 1,
                                                                              "raised": 0}
    assert level(engine) == ("blue", "blue")


def test_before_the_review_date_nothing_is_lowered(engine, club) -> None:  # noqa: ANN001
    programme, member = club
    earn(engine, member, 1200, "a", at=NOW - timedelta(days=300))
    assert levels.review(engine, programme.id, NOW - timedelta(days=10))["reviewed"] == 0
    assert level(engine)[0] == "silver"


def test_within_the_grace_period_the_review_keeps_the_level(engine, club) -> None:  # noqa: ANN001
    programme, member = club
    today = datetime.now(UTC)
    earn(engine, member, 1200, "a", at=today - timedelta(days=360))  # silver since today, for 5 more days
    with engine.begin() as conn:
        settings = conn.execute(select(LoyaltyProgramme.settings)).scalar_one()
        conn.execute(update(LoyaltyProgramme).values(settings={**settings, "next_review": today.isoformat()}))
    assert levels.review(engine, programme.id, today + timedelta(days=10))["lowered"] == 0  # grace: 30 days
    assert level(engine)[0] == "silver"


def test_the_review_moves_the_next_review_date_on(engine, club) -> None:  # noqa: ANN001
    programme, _ = club
    levels.review(engine, programme.id, NOW + timedelta(days=1))
    assert levels.review(engine, programme.id, NOW + timedelta(days=2))["reviewed"] == 0


@pytest.mark.parametrize(("raw", "field"), [
    ({"levels": []}, "levels"),
    ({"levels": [{"name": "blue", "min": 10}]}, "levels[1].min"),
    ({"levels": [{"name": "blue", "min": 0}, {"name": "gold", "min": 0}]}, "levels[2].min"),
    ({"levels": [{"name": "blue", "min": 0}, {"name": "Blue", "min": 5}]}, "levels[2].name"),
    ({"levels": [{"name": "blue", "min": 0}], "grace_days": -1}, "grace_days"),
    ({"levels": [{"name": "blue", "min": 0}], "tiers": 3}, "tiers"),
])
def test_bad_levels_are_refused_naming_the_field(raw, field) -> None:  # noqa: ANN001
    with pytest.raises(levels.LevelsError) as refused:
        levels.parse(raw)
    assert refused.value.field == field
