"""Schedules said in plain words, the zone always named."""

from __future__ import annotations

import pytest

from engage.engine.scheduler.schedule_words import in_words


@pytest.mark.parametrize(("spec", "words"), [
    (None, "As soon as it may be sent (no schedule)"),
    ({"kind": "now"}, "As soon as it may be sent"),
    ({"kind": "at", "at": "2026-12-10T10:00"}, "Once, on 2026-12-10 10:00, Asia/Tashkent time"),
    ({"kind": "at", "at": "2026-12-10T10:00+01:00"}, "Once, on 2026-12-10 10:00 UTC+01:00"),
    ({"kind": "daily", "time": "09:30", "timezone": "Europe/Berlin"}, "Every day at 09:30, Europe/Berlin time"),
    ({"kind": "weekly", "days": ["mon", "thu"], "time": "10:00"},
     "Every Monday and Thursday at 10:00, Asia/Tashkent time"),
    ({"kind": "monthly", "day": 31, "time": "09:30"},
     "On day 31 of every month at 09:30, Asia/Tashkent time (the last day of a shorter month)"),
    ({"kind": "cron", "cron": "0 10 * * 1-5"}, "On the cron schedule “0 10 * * 1-5”, Asia/Tashkent time"),
    ({"kind": "daily", "time": "10:00", "until": "2027-01-31T23:59"},
     "Every day at 10:00, Asia/Tashkent time, until 2027-01-31 23:59"),
    ({"kind": "yearly"}, "A schedule that cannot be read: kind: 'yearly' is not one of now, at, cron, daily, "
                         "weekly, monthly"),
], ids=["none", "now", "at", "at-offset", "daily", "weekly", "monthly", "cron", "until", "bad"])
def test_a_schedule_is_said_in_plain_words_with_its_zone(spec, words):
    assert in_words(spec, default_timezone="Asia/Tashkent") == words
