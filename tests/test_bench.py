"""`engage bench send` runs a real campaign and reports its figures as one JSON line."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("backend", ["embedded", "production"], indirect=True)
def test_bench_send_reports_every_recipient_delivered_none_lost(backend, tmp_path):
    _, broker_url, url = backend
    env = {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": broker_url}
    done = subprocess.run([sys.executable, "-m", "engage.cli", "bench", "send", "--recipients", "300",
                           "--receipt-delay", "0.05", "--quiet"], env=env, capture_output=True, text=True,
                          timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["recipients"] == 300
    assert (figures["delivered"], figures["failed"], figures["lost"], figures["duplicates"]) == (300, 0, 0, 0)
    assert figures["submitted_per_s"] > 0 and figures["receipts_per_s"] > 0
    assert all(mb > 0 for mb in figures["peak_rss_mb"].values())


@pytest.mark.parametrize("backend", ["embedded", "production"], indirect=True)
def test_bench_send_refuses_to_start_while_another_bench_runs_on_the_database(backend, tmp_path):
    from engage.bench.send import one_bench_at_a_time

    engine, broker_url, url = backend
    env = {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": broker_url}
    with one_bench_at_a_time(engine):
        done = subprocess.run([sys.executable, "-m", "engage.cli", "bench", "send", "--recipients", "10", "--quiet"],
                              env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert "another `engage bench send` is running on this database" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("backend", ["embedded", "production"], indirect=True)
def test_a_bench_campaign_ends_with_its_unsent_messages_cancelled_so_no_later_run_sends_them(backend):
    from sqlalchemy import func, select

    from engage.bench.send import _create_campaign, end_campaign, seed_subscribers
    from engage.engine import campaigns
    from engage.engine.store.schema import Message

    engine, _, _ = backend
    seed_subscribers(engine, 20)
    campaign_id = _create_campaign(engine, 20)
    campaigns.launch(engine, campaign_id, actor="bench")
    with engine.begin() as conn:  # a few already out: those keep waiting for their receipts
        conn.execute(Message.__table__.update().where(Message.id.in_(
            select(Message.id).where(Message.campaign_id == campaign_id).limit(5).scalar_subquery())).values(
            status="submitted"))

    end_campaign(engine, campaign_id)

    with engine.connect() as conn:
        by_status = dict(conn.execute(select(Message.status, func.count()).where(
            Message.campaign_id == campaign_id).group_by(Message.status)).all())
    assert by_status == {"submitted": 5, "cancelled": 15}


def test_the_bench_counts_final_messages_from_the_campaigns_final_events(engine):
    from engage.bench.send import _final
    from engage.engine.events import record, record_batch

    with engine.begin() as conn:
        record_batch(conn, "queued", 5, [1, 2, 3, 4])
        record_batch(conn, "delivered", 5, [1, 2])
        record_batch(conn, "undelivered", 6, [9])
        record(conn, "failed", [{"campaign_id": 5, "message_id": 3}])
    assert _final(engine, 5) == 3
