"""`engage bench effectiveness`: a campaign of N recipients (a share of them held out as the control
group) with a planted effect, its outcome figures computed (refresh) and its report read
(effectiveness), timed; then the report as an analyst gets it over HTTP from the real web app (the
page, its groups CSV and the campaigns' comparison: engage.bench.page_timing), timed. The issue's
figure: a 1,000,000-recipient report renders in <= 1 s.

The subscribers and their usage are the synthetic base (engage.bench.synthetic: recharges already
happen there, at the same rate in both groups); on top of it the bench writes, set-based, the
campaign's messages (half arm A, half B; 95 % delivered), extra recharges within the conversion window
for PLANTED[arm] of the delivered treated recipients (the effect), and MOs and USSD sessions. Every
draw is a hash of the subscriber id, so both databases plant the same thing. What the bench wrote is
removed again at the end (the campaign itself stays, completed, as after the segments bench)."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text, update

from engage import config
from engage.bench import page_timing, synthetic
from engage.bench.segments import EVERYONE, analyse, nearest_rank
from engage.engine import campaigns
from engage.engine import statuses as st
from engage.engine.analytics.effectiveness import refresh as er
from engage.engine.analytics.effectiveness import report
from engage.engine.segments import store as segments_store
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import Campaign
from engage.engine.templates import store as templates

PLANTED = {"A": 0.04, "B": 0.06}  # extra recharges among the delivered treated recipients of each arm
REPLIES, CONTROL_REPLIES, SESSIONS = 0.03, 0.005, 0.01
PRIME = 1_000_003
START_DAYS_AGO = 20  # the run started this long ago: inside the base's 90 days of usage, its windows closed
MARK = "BENCHFX"  # the MOs' destination and the USSD sessions' code: what the bench removes afterwards


def _u(k: int, column: str = "s.id") -> str:
    """A uniform [0, 1) draw per subscriber, the k-th: (id x a prime) mod a prime, the same on both databases."""
    multipliers = (7919, 104729, 611953, 882377, 319993, 500009, 746773)
    return f"((({column} * {multipliers[k]}) % {PRIME}) * 1.0 / {PRIME})"


def _plus(conn: Connection, moment: str, seconds: str) -> str:
    if conn.dialect.name == "postgresql":
        return f"({moment} + ({seconds}) * interval '1 second')"
    return f"strftime('%Y-%m-%d %H:%M:%f', {moment}, '+' || ({seconds}) || ' seconds')"


def run(recipients: int, control: float = 0.1, events_per_subscriber: int = 3, repeats: int = 10) -> dict[str, Any]:
    if not 0 <= control < 1 or recipients < 1 or repeats < 1:
        raise ValueError("recipients >= 1, control in [0, 1), repeats >= 1")
    url = config.load().database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        generated = synthetic.generate(engine, recipients, events_per_subscriber)
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=START_DAYS_AGO)
        campaign_id, planted_seconds, mark = plant(engine, recipients, control, start)
        try:
            analyse_seconds = analyse(engine)
            refreshes = [er.refresh(engine, campaign_id) for _ in range(2)]
            timings, found = [], None
            for _ in range(repeats + 1):
                with engine.connect() as conn:
                    began = time.perf_counter()
                    found = report.effectiveness(conn, campaign_id)
                    timings.append((time.perf_counter() - began) * 1000)
            first, timings = timings[0], sorted(timings[1:])
            served = page_timing.time_pages(engine, pages(campaign_id), role="analyst", repeats=repeats)
        finally:
            cleanup(engine, campaign_id, mark)
        conversion, arms = found["conversion"], found["arms"]
        return {
            "database": engine.dialect.name, "recipients": found["reach"]["recipients"],
            "control": found["reach"]["control"], "subscribers": generated["subscribers"],
            "usage_events": generated["usage_events"], "data_reused": generated["reused"],
            "generate_seconds": generated["seconds"], "plant_seconds": planted_seconds,
            "analyse_seconds": analyse_seconds,
            "refresh_seconds": [r["seconds"] for r in refreshes], "result_rows": refreshes[-1]["rows"],
            "report_ms": {"first": round(first, 1), "p50": round(statistics.median(timings), 1),
                          "p95": round(nearest_rank(timings, 0.95), 1), "max": round(timings[-1], 1)},
            "sign_in_seconds": served["sign_in_seconds"],
            **{f"{name}_seconds": {k: v for k, v in page.items() if k != "bytes"}
               for name, page in served["pages"].items()},
            "page_bytes": {name: page["bytes"] for name, page in served["pages"].items()},
            "planted": {"extra_conversion_of_delivered": PLANTED},
            "conversion": {"treated": conversion["treated"]["conversion_rate"],
                           "control": conversion["control"]["conversion_rate"],
                           "uplift": _short(conversion["uplift"])},
            "arms": {a["arm"]: {"conversion_rate": a["conversion_rate"], "uplift": _short(a["uplift"])}
                     for a in arms["arms"]},
            "winner": arms["winner"], "why": arms["why"],
            "response_rate": found["response"]["treated"]["response_rate"],
            "control_response_rate": found["response"]["control"]["response_rate"],
            "delivery_rate": found["delivery"]["rate"], "campaign_id": campaign_id,
        }
    finally:
        engine.dispose()


def pages(campaign_id: int) -> dict[str, str]:
    """What an analyst opens: the report page, its per-group table as CSV, the campaign compared."""
    return {"page": f"/campaigns/{campaign_id}/effectiveness",
            "groups_csv": f"/campaigns/{campaign_id}/effectiveness/groups.csv",
            "compare": f"/analytics/compare?id={campaign_id}"}


def _short(uplift: dict[str, Any] | None) -> dict[str, Any] | None:
    if uplift is None:
        return None
    return {k: round(uplift[k], 4) for k in ("difference", "low", "high")} | {"significant": uplift["significant"]}


def plant(engine: Engine, recipients: int, control: float, start: datetime) -> tuple[int, float, dict[str, int]]:
    """The campaign, its run and its messages, and the answers and recharges it caused; returns
    (campaign id, seconds taken, the ids beyond which the bench's own usage events lie)."""
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    with engine.begin() as conn:
        segment_id = segments_store.create(conn, f"bench effectiveness {stamp}", EVERYONE, actor="bench")
        template_id = templates.create(conn, f"bench effectiveness {stamp}", {"en": "Top up today: double data"},
                                       default_language="en", actor="bench")
        campaign_id = campaigns.create(conn, name=f"bench effectiveness {stamp}", segment_id=segment_id,
                                       template_id=template_id, sender_id="Bench", actor="bench")
    began = time.perf_counter()
    if engine.dialect.name != "postgresql":
        start = start.replace(tzinfo=None)  # SQLite keeps naive UTC text; an offset in it would not compare
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        run_id = conn.execute(text(
            "INSERT INTO campaign_runs (campaign_id, scheduled_for, status, started_at, completed_at, audience_size, "
            "set_aside) VALUES (:c, :s, 'completed', :s, :s, :n, :aside) RETURNING id"),
            {"c": campaign_id, "s": start, "n": recipients, "aside": '{"opted_out": 0}'}).scalar_one()
        conn.execute(update(Campaign.__table__).where(Campaign.id == campaign_id).values(
            status=st.CAMPAIGN_COMPLETED, launched_at=start, completed_at=start, audience_size=recipients,
            set_aside={"opted_out": 0}, control_share=control,
            arms=[{"arm": "A", "share": 50}, {"arm": "B", "share": 50}]))
        submitted = _plus(conn, ":start", f"{_u(3)} * 3600")
        conn.execute(text(f"""
            INSERT INTO messages (campaign_id, run_id, subscriber_id, msisdn, status, arm, submitted_at, done_at,
                                  price, currency, created_at)
            SELECT :c, :r, s.id, s.msisdn,
                   CASE WHEN {_u(0)} < :control THEN 'control' WHEN {_u(1)} < 0.95 THEN 'delivered'
                        ELSE 'undelivered' END,
                   CASE WHEN {_u(2)} < 0.5 THEN 'A' ELSE 'B' END,
                   CASE WHEN {_u(0)} < :control THEN NULL ELSE {submitted} END,
                   CASE WHEN {_u(0)} < :control THEN NULL ELSE {_plus(conn, submitted, f'2 + 30 * {_u(4)}')} END,
                   CASE WHEN {_u(0)} < :control THEN NULL ELSE 0.05 END,
                   CASE WHEN {_u(0)} < :control THEN NULL ELSE 'USD' END, :start
            FROM subscribers AS s WHERE {synthetic.bench_range('s.msisdn')}"""),
            {"c": campaign_id, "r": run_id, "control": control, "start": start})
        mark = {"usage": conn.execute(text("SELECT coalesce(max(id), 0) FROM usage_events")).scalar_one()}
        done = "m.done_at"
        conn.execute(text(f"""
            INSERT INTO usage_events (subscriber_id, kind, at, amount)
            SELECT m.subscriber_id, 'recharge', {_plus(conn, done, f"{_u(5, 'm.subscriber_id')} * 6.9 * 86400")}, 5
            FROM messages AS m WHERE m.campaign_id = :c AND m.status = 'delivered'
              AND {_u(6, 'm.subscriber_id')} < CASE m.arm WHEN 'A' THEN :a ELSE :b END"""),
            {"c": campaign_id, "a": PLANTED["A"], "b": PLANTED["B"]})
        within = f"{_u(4, 'm.subscriber_id')} * 48 * 3600"
        conn.execute(text(f"""
            INSERT INTO inbound_messages (provider_id, source, destination, text, handled, received_at, keyword)
            SELECT 0, substr(m.msisdn, 2), '{MARK}', 'YES', true,
                   CASE WHEN m.status = 'control' THEN {_plus(conn, ':start', within)}
                        ELSE {_plus(conn, done, within)} END, 'YES'
            FROM messages AS m WHERE m.campaign_id = :c AND (
                (m.status = 'delivered' AND {_u(5, 'm.subscriber_id')} < :replies)
                OR (m.status = 'control' AND {_u(5, 'm.subscriber_id')} < :control_replies))"""),
            {"c": campaign_id, "start": start, "replies": REPLIES, "control_replies": CONTROL_REPLIES})
        conn.execute(text(f"""
            INSERT INTO ussd_sessions (gateway_id, session_key, msisdn, code, page, history, "values", visited,
                                       last_ends, started_at, updated_at)
            SELECT 0, 'bench-' || m.id, m.msisdn, '{MARK}', 0, '[]', '{{}}', '[]', false,
                   {_plus(conn, done, f"{_u(3, 'm.subscriber_id')} * 24 * 3600")},
                   {_plus(conn, done, f"{_u(3, 'm.subscriber_id')} * 24 * 3600")}
            FROM messages AS m WHERE m.campaign_id = :c AND m.status = 'delivered'
              AND {_u(1, 'm.subscriber_id')} < :sessions"""), {"c": campaign_id, "sessions": SESSIONS})
    return campaign_id, round(time.perf_counter() - began, 3), mark


def cleanup(engine: Engine, campaign_id: int, mark: dict[str, int]) -> None:
    """Remove what the bench wrote on top of the synthetic base, so that the next run starts alike."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM usage_events WHERE id > :last AND kind = 'recharge' AND subscriber_id IN "
                          f"(SELECT id FROM subscribers WHERE {synthetic.bench_range()})"), {"last": mark["usage"]})
        conn.execute(text(f"DELETE FROM inbound_messages WHERE destination = '{MARK}'"))
        conn.execute(text(f"DELETE FROM ussd_sessions WHERE code = '{MARK}'"))
        conn.execute(text("DELETE FROM messages WHERE campaign_id = :c"), {"c": campaign_id})
        for table in ("campaign_results", "campaign_results_state"):
            conn.execute(text(f"DELETE FROM {table} WHERE campaign_id = :c"), {"c": campaign_id})
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM messages, usage_events")
