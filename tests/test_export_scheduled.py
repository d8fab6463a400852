"""Scheduled exports: off by default, daily or every N minutes when configured, started by the leading
scheduler in a thread of its own; and never two runs of one dataset into one directory at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engage.engine import events
from engage.engine.analytics import exports
from engage.engine.analytics.exports.scheduled import ScheduledExports, is_due, last_started
from engage.engine.scheduler.leadership import Leadership

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def configured(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ENGAGE_EXPORTS_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("ENGAGE_EXPORT_SETTLE", "0")
    with engine.begin() as conn:
        events.record_one(conn, "campaign_launched", 3, run=1)
    return monkeypatch


def test_daily_is_due_once_per_utc_day():
    assert is_due("daily", None, NOON)
    assert not is_due("daily", NOON - timedelta(hours=11), NOON)
    assert is_due("daily", NOON - timedelta(hours=13), NOON)


def test_every_n_minutes_is_due_when_n_minutes_have_passed():
    assert not is_due("15", NOON - timedelta(minutes=14), NOON)
    assert is_due("15", NOON - timedelta(minutes=15), NOON)


def test_scheduled_exports_are_off_by_default(engine, configured, tmp_path):
    assert not ScheduledExports(engine).maybe_start()
    assert not (tmp_path / "exports").exists()


def test_a_due_export_runs_every_dataset_and_is_not_due_again_at_once(engine, configured, tmp_path):
    configured.setenv("ENGAGE_EXPORT_EVERY", "daily")
    scheduled = ScheduledExports(engine)
    assert scheduled.maybe_start()
    scheduled.join(timeout=120)
    assert (tmp_path / "exports" / "events" / "_manifest.json").is_file()
    assert last_started(engine) is not None
    assert not scheduled.maybe_start()


def test_a_bad_setting_leaves_scheduled_exports_off(engine, configured, caplog):
    configured.setenv("ENGAGE_EXPORT_EVERY", "hourly")
    assert not ScheduledExports(engine).maybe_start()
    assert "ENGAGE_EXPORT_EVERY" in caplog.text


def test_a_dataset_being_exported_into_a_directory_is_not_exported_there_twice_at_once(engine, configured, tmp_path):
    with Leadership(engine, "export:events") as running:  # the lock a run of events into exports/ holds
        assert running.held
        with pytest.raises(exports.ExportBusy):
            exports.run_dataset(engine, exports.get("events"),
                                exports.ExportOptions(directory=tmp_path / "exports", settle=0))
