"""Each person reads times in their own zone, with the zone named: the setting (validated, audited,
carried by the session, and `engage user set-timezone`) on both databases, and the one formatting
every page uses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from engage.cli import main
from engage.engine import audit_log
from engage.engine.store.schema import User as UserRow
from engage.engine.users import UserError, create_user, get_user, sessions
from engage.engine.users.zones import (
    check_zone,
    format_moment,
    set_timezone,
    wall_instant,
    zone_choices,
    zone_for,
)

pytestmark = pytest.mark.usefixtures("quick_hashes")
WINTER = datetime(2026, 12, 7, 14, 45, tzinfo=UTC)
SUMMER = datetime(2026, 7, 7, 14, 45, tzinfo=UTC)


@pytest.fixture
def ann(engine):
    with engine.begin() as conn:
        create_user(conn, "ann@example.com", "marketer", password="correct horse battery", actor="root@example.com")
    return engine


def _zone_entries(engine) -> list[dict]:
    with engine.connect() as conn:
        return audit_log.entries(conn, action="user.set_timezone")


# -- the setting ------------------------------------------------------------------------------------------------

def test_a_new_user_has_no_zone_of_their_own_and_reads_times_in_the_installations(ann, monkeypatch):
    monkeypatch.setenv("ENGAGE_DEFAULT_TIMEZONE", "Asia/Tashkent")
    with ann.connect() as conn:
        user = get_user(conn, "ann@example.com")
    assert user.timezone is None
    assert zone_for(user) == "Asia/Tashkent"


def test_a_zone_is_stored_as_tzdata_spells_it_whatever_case_it_was_given_in(ann):
    with ann.begin() as conn:
        user = set_timezone(conn, "ann@example.com", " europe/berlin ", actor="ann@example.com")
    assert user.timezone == "Europe/Berlin"
    assert zone_for(user) == "Europe/Berlin"


def test_setting_a_zone_is_audited_with_who_the_zone_and_the_one_it_replaced(ann):
    with ann.begin() as conn:
        set_timezone(conn, "ann@example.com", "Europe/Berlin", actor="ann@example.com")
        set_timezone(conn, "ann@example.com", "America/New_York", actor="root@example.com")
    latest = _zone_entries(ann)[0]
    assert latest["actor"] == "root@example.com" and latest["object_type"] == "user"
    assert latest["details"] == {"email": "ann@example.com", "timezone": "America/New_York",
                                 "previous": "Europe/Berlin"}


def test_an_unknown_zone_is_refused_naming_the_value_and_nothing_changes(ann):
    with pytest.raises(UserError) as refused, ann.begin() as conn:
        set_timezone(conn, "ann@example.com", "Mars/Olympus_Mons", actor="ann@example.com")
    assert refused.value.field == "timezone"
    assert "'Mars/Olympus_Mons' is not a time zone" in str(refused.value)
    with ann.connect() as conn:
        assert get_user(conn, "ann@example.com").timezone is None
    assert _zone_entries(ann) == []


@pytest.mark.parametrize("not_a_place", ["localtime", "Factory", "../../etc/passwd"])
def test_names_in_the_zone_directory_that_are_no_place_are_refused(not_a_place):
    with pytest.raises(UserError, match="is not a time zone"):
        check_zone(not_a_place)


@pytest.mark.parametrize("none", [None, "", "  "])
def test_no_zone_goes_back_to_the_installations(ann, none, monkeypatch):
    monkeypatch.setenv("ENGAGE_DEFAULT_TIMEZONE", "Asia/Tashkent")
    with ann.begin() as conn:
        set_timezone(conn, "ann@example.com", "Europe/Berlin", actor="ann@example.com")
        user = set_timezone(conn, "ann@example.com", none, actor="ann@example.com")
    assert user.timezone is None and zone_for(user) == "Asia/Tashkent"


def test_a_zone_for_nobody_is_refused_naming_the_email(ann):
    with pytest.raises(UserError, match="no user with the email 'bob@example.com'"), ann.begin() as conn:
        set_timezone(conn, "bob@example.com", "Europe/Berlin", actor="root@example.com")


def test_the_signed_in_user_carries_their_zone_to_every_page(ann):
    with ann.begin() as conn:
        user = set_timezone(conn, "ann@example.com", "Asia/Kolkata", actor="ann@example.com")
        token = sessions.start(conn, user, ip="198.51.100.7", user_agent="test")
    with ann.connect() as conn:
        assert sessions.resolve(conn, token).timezone == "Asia/Kolkata"


def test_a_stored_zone_tzdata_no_longer_knows_falls_back_to_the_installations(ann, monkeypatch):
    monkeypatch.setenv("ENGAGE_DEFAULT_TIMEZONE", "Asia/Tashkent")
    with ann.begin() as conn:
        conn.execute(update(UserRow.__table__).where(UserRow.email == "ann@example.com")
                     .values(timezone="Europe/Atlantis"))
        assert conn.execute(select(UserRow.timezone)).scalar_one() == "Europe/Atlantis"
        assert zone_for(get_user(conn, "ann@example.com")) == "Asia/Tashkent"


def test_the_user_list_shows_each_users_zone(ann):
    with ann.begin() as conn:
        set_timezone(conn, "ann@example.com", "Europe/Berlin", actor="ann@example.com")
        assert get_user(conn, "ann@example.com").as_dict()["timezone"] == "Europe/Berlin"


# -- the formatting ---------------------------------------------------------------------------------------------

def test_a_moment_is_shown_in_the_zone_with_the_zone_and_its_offset_named():
    assert format_moment(WINTER, "Asia/Tashkent") == "2026-12-07 19:45 Asia/Tashkent (UTC+05:00)"


def test_a_naive_moment_is_taken_as_utc():
    assert format_moment(WINTER.replace(tzinfo=None), "Asia/Tashkent") == format_moment(WINTER, "Asia/Tashkent")


def test_a_moment_given_in_another_offset_is_the_same_instant():
    elsewhere = WINTER.astimezone(timezone(timedelta(hours=-3)))
    assert format_moment(elsewhere, "Asia/Tashkent") == "2026-12-07 19:45 Asia/Tashkent (UTC+05:00)"


def test_the_offset_shown_is_the_moments_own_summer_or_winter():
    assert format_moment(SUMMER, "Europe/Berlin") == "2026-07-07 16:45 Europe/Berlin (UTC+02:00)"
    assert format_moment(WINTER, "Europe/Berlin") == "2026-12-07 15:45 Europe/Berlin (UTC+01:00)"


def test_offsets_west_of_utc_and_in_half_hours_are_signed_and_whole():
    assert format_moment(SUMMER, "America/St_Johns") == "2026-07-07 12:15 America/St_Johns (UTC-02:30)"
    assert format_moment(WINTER, "Asia/Kolkata", seconds=True) == "2026-12-07 20:15:00 Asia/Kolkata (UTC+05:30)"


def test_utc_is_named_once():
    assert format_moment(WINTER, "UTC") == "2026-12-07 14:45 UTC"


def test_no_moment_is_the_empty_text():
    assert format_moment(None, "Asia/Tashkent") == ""


def test_a_day_typed_by_a_reader_begins_at_midnight_in_their_zone():
    assert wall_instant("2026-11-30", "Asia/Tashkent") == datetime(2026, 11, 29, 19, 0, tzinfo=UTC)


def test_the_zones_offered_start_with_utc_and_name_each_zones_offset_now():
    groups = dict(zone_choices(now=WINTER))
    assert next(iter(dict(zone_choices(now=WINTER)))) == "UTC"
    assert ("Europe/Berlin", "Europe/Berlin (UTC+01:00)") in groups["Europe"]
    assert ("America/New_York", "America/New York (UTC-05:00)") in groups["America"]
    assert "Etc" not in groups and "US" not in groups


def test_a_chosen_zone_outside_the_regions_is_still_offered():
    assert ("US/Pacific", "US/Pacific (UTC-08:00)") in dict(zone_choices("US/Pacific", now=WINTER))["Other"]


# -- the command line -------------------------------------------------------------------------------------------

@pytest.fixture
def cli(ann, monkeypatch, tmp_path):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", ann.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / ".engage"))
    return ann


def test_the_cli_sets_a_users_zone_and_default_gives_back_the_installations(cli, capsys):
    assert main(["user", "set-timezone", "ann@example.com", "Asia/Kolkata"]) == 0
    assert json.loads(capsys.readouterr().out)["timezone"] == "Asia/Kolkata"
    assert main(["user", "set-timezone", "ann@example.com", "default"]) == 0
    assert json.loads(capsys.readouterr().out)["timezone"] is None
    assert [e["actor"].startswith("cli:") for e in _zone_entries(cli)] == [True, True]


def test_the_cli_names_an_unknown_zone(cli):
    with pytest.raises(SystemExit, match="error: timezone: 'Mars/Olympus_Mons' is not a time zone"):
        main(["user", "set-timezone", "ann@example.com", "Mars/Olympus_Mons"])
