"""Live counts from the in-memory frame give the database's answer: every criterion kind, groups
and negations over empty values, on both databases, on a synthetic base with history, lists
and opt-outs."""

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import and_, func, insert, not_, or_, select, update

from engage.bench import synthetic
from engage.bench.segments import SEGMENTS
from engage.engine import consent
from engage.engine.segments import audience, live
from engage.engine.segments import frame as frames
from engage.engine.segments.vector import Evaluator
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import (
    Campaign,
    Event,
    InboundMessage,
    Message,
    Segment,
    StaticList,
    StaticListMember,
    Subscriber,
    Template,
)
from engage.engine.subscribers import storage
from engage.engine.usage import totals
from engage.engine.users.scope import Scope
from tests.fixtures.databases import drop_postgres, fresh_postgres_url, migrated_sqlite_url

NOW = datetime.now(UTC)

DEFINITIONS = {
    "field_eq": {"field": "city", "op": "eq", "value": "Tashkent"},
    "field_ne_keeps_empty": {"field": "device_os", "op": "ne", "value": "android"},
    "field_in": {"field": "region", "op": "in", "value": ["Tashkent City", "Samarkand Region"]},
    "field_not_in": {"field": "tariff_plan", "op": "not_in", "value": ["Street 15", "Business S"]},
    "field_number_between": {"field": "balance", "op": "between", "value": [5, 50.5]},
    "field_integer_gt": {"field": "data_mb_month", "op": "gt", "value": 1000},
    "field_bool": {"field": "roaming", "op": "eq", "value": True},
    "field_date_le": {"field": "activation_date", "op": "le", "value": "2022-06-01"},
    "field_datetime_ge": {"field": "last_recharge_at", "op": "ge", "value": (NOW - timedelta(days=20)).isoformat()},
    "field_empty": {"field": "birth_date", "op": "empty"},
    "field_text_empty": {"field": "first_name", "op": "empty"},
    "field_starts_with": {"field": "device_model", "op": "starts_with", "value": "Sams"},
    "field_contains": {"field": "city", "op": "contains", "value": "ar"},
    "field_text_ordered_asks_database": {"field": "last_name", "op": "lt", "value": "M"},
    "in_last_days": {"kind": "in_last_days", "field": "last_activity_at", "days": 30},
    "more_than_days_ago_or_never": {"kind": "more_than_days_ago", "field": "last_recharge_at", "days": 14,
                                    "include_never": True},
    "birthday_within": {"kind": "birthday_within", "days": 30},
    "age": {"kind": "age", "op": "between", "value": [18, 45]},
    "tenure_months": {"kind": "tenure", "unit": "months", "op": "ge", "value": 12},
    "all": {"kind": "all"},
    "sample": {"kind": "sample", "percent": 12.5, "seed": 7},
    "attribute": {"kind": "attribute", "name": "channel", "op": "eq", "value": "retail"},
    "has_tag_all": {"kind": "has_tag", "tags": ["music", "football"], "match": "all"},
    "loyalty_tier": {"kind": "loyalty_tier", "tiers": ["gold", "platinum"]},
    "loyalty_points_zero_including": {"kind": "loyalty_points", "op": "lt", "value": 500},
    "usage_totals": {"kind": "usage", "usage": "call_out", "days": 30, "agg": "sum", "op": "ge", "value": 10},
    "usage_zero_including": {"kind": "usage", "usage": "recharge", "days": 60, "agg": "count", "op": "eq",
                             "value": 0},
    "usage_days_active": {"kind": "usage", "usage": "data", "days": 14, "agg": "days_active", "op": "ge", "value": 2},
    "number_prefix": {"kind": "number_prefix", "prefixes": ["+9989900001"]},
    "opted_out": {"kind": "opted_out", "channel": "sms"},
    "in_list": {"kind": "in_list", "list_id": "LIST"},
    "in_segment": {"kind": "in_segment", "segment_id": "SEGMENT"},
    "received_campaign": {"kind": "received_campaign", "campaign_id": "CAMPAIGN", "status": "delivered"},
    "replied": {"kind": "replied", "days": 7},
    "not_messaged_in": {"kind": "not_messaged_in", "days": 7},
    "messages_received": {"kind": "messages_received", "days": 30, "status": "any", "op": "ge", "value": 1},
    "not_over_empty_values": {"not": {"or": [{"field": "city", "op": "eq", "value": "Bukhara"},
                                             {"field": "birth_date", "op": "gt", "value": "1990-01-01"}]}},
    "not_over_asked_part": {"not": {"and": [{"field": "last_name", "op": "ge", "value": "K"},
                                            {"field": "gender", "op": "eq", "value": "F"}]}},
    "typical": SEGMENTS["typical"],
}


def _resolve(node, ids):
    if isinstance(node, dict):
        return {k: _resolve(v, ids) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, ids) for v in node]
    return ids.get(node, node) if isinstance(node, str) else node


def _history(engine):
    """A delivered campaign to some, replies from others, a static list and a saved segment."""
    with engine.begin() as conn:
        people = conn.execute(select(Subscriber.id, Subscriber.msisdn).order_by(Subscriber.id).limit(300)).all()
        template = conn.execute(insert(Template.__table__).values(name="t")).inserted_primary_key[0]
        segment = conn.execute(insert(Segment.__table__).values(
            name="active", definition={"kind": "in_last_days", "field": "last_activity_at", "days": 7},
        )).inserted_primary_key[0]
        campaign = conn.execute(insert(Campaign.__table__).values(
            name="c", segment_id=segment, template_id=template, sender_id="X", status="completed",
            launched_at=NOW - timedelta(days=3), completed_at=NOW - timedelta(days=2))).inserted_primary_key[0]
        conn.execute(insert(Message.__table__), [
            {"campaign_id": campaign, "subscriber_id": p.id, "msisdn": p.msisdn,
             "status": "delivered" if i % 3 else "undelivered", "submitted_at": NOW - timedelta(days=3)}
            for i, p in enumerate(people[:200])])
        conn.execute(insert(InboundMessage.__table__), [
            {"provider_id": 1, "source": p.msisdn.lstrip("+") if i % 2 else p.msisdn, "destination": "1234",
             "text": "hi", "received_at": NOW - timedelta(days=2)} for i, p in enumerate(people[150:260])])
        replied = conn.execute(select(Message.id).where(Message.campaign_id == campaign, Message.subscriber_id.in_(
            [p.id for p in people[150:200]]))).scalars().all()  # those of the MOs that reply to the campaign
        conn.execute(insert(Event.__table__), [
            {"kind": "replied", "at": NOW - timedelta(days=2), "campaign_id": campaign, "message_id": message_id,
             "data": {"inbound_id": None, "keyword": None}} for message_id in replied])
        listed = conn.execute(insert(StaticList.__table__).values(name="winners")).inserted_primary_key[0]
        conn.execute(insert(StaticListMember.__table__), [
            {"list_id": listed, "msisdn": p.msisdn} for p in people[::7]] + [{"list_id": listed, "msisdn": "+1555"}])
        conn.execute(update(Subscriber).where(Subscriber.id.in_([p.id for p in people[:40]])).values(
            first_name=None, city=None, last_name=None, birth_date=None, device_os=None))
    return {"LIST": listed, "SEGMENT": segment, "CAMPAIGN": campaign}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def base(request, tmp_path_factory):
    if request.param == "sqlite":
        url, name = migrated_sqlite_url(tmp_path_factory.mktemp("live") / "live.db"), None
    else:
        name, url = fresh_postgres_url(migrated=True)
    engine = make_engine(url)
    synthetic.generate(engine, 2000, 4, seed=11)
    ids = _history(engine)
    totals.refresh(engine)
    counts = live.LiveCounts(engine)
    with engine.connect() as conn:
        counts.frame = frames.load(conn, frames.watermark(conn))
    yield engine, counts, ids
    live.disable(engine)
    engine.dispose()
    if name:
        drop_postgres(name)


def _sql_count(engine, definition, scope=audience.EVERYONE):
    with engine.connect() as conn:
        got = audience.count(conn, definition, scope=scope, now=NOW)
    return got["matching"], got["opted_out"]


def _frame_count(engine, counts, definition, scope=audience.EVERYONE):
    with engine.connect() as conn:
        mark = frames.watermark(conn)
        with audience.consistent(conn):
            where = audience.condition(conn, definition, scope, NOW)
            counted = counts.count(conn, mark, where, "sms", 0)
    return (counted.matching, counted.opted_out), counted.figures


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_every_criterion_counts_from_memory_as_the_database_does(base, name):
    engine, counts, ids = base
    definition = _resolve(DEFINITIONS[name], ids)
    expected = _sql_count(engine, definition)
    assert expected[0] > 0, f"{name} selects nobody: the case tests nothing"
    assert _frame_count(engine, counts, definition)[0] == expected


def test_a_branch_scope_limits_the_count_from_memory(base):
    engine, counts, _ = base
    scope = Scope(branch="tashkent")
    definition = {"field": "contract_type", "op": "eq", "value": "prepaid"}
    expected = _sql_count(engine, definition, scope)
    assert 0 < expected[0] < _sql_count(engine, definition)[0]
    assert _frame_count(engine, counts, definition, scope)[0] == expected


def test_field_tests_are_answered_in_memory_without_asking_the_database(base):
    engine, counts, _ = base
    _, figures = _frame_count(engine, counts, DEFINITIONS["field_in"])
    assert figures["asked_database"] == 0


def test_a_json_attribute_is_asked_of_the_database(base):
    engine, counts, _ = base
    _, figures = _frame_count(engine, counts, DEFINITIONS["attribute"])
    assert figures["asked_database"] == 1


PEOPLE = [{"msisdn": f"+99890123{i:04d}", "city": "Tashkent" if i % 2 else "Bukhara", "contract_type": "prepaid"}
          for i in range(40)]
TASHKENT = {"field": "city", "op": "eq", "value": "Tashkent"}


@pytest.fixture
def counted_live(engine):
    """A base of 40 (20 in Tashkent) whose counts come from memory."""
    storage.upsert(engine, PEOPLE)
    live.enable(engine, wait=True)
    yield engine
    live.disable(engine)


@pytest.fixture
def live_postgres(postgres_url):
    """The base of 40 on PostgreSQL (open transactions are PostgreSQL's to report), counted live."""
    engine = make_engine(postgres_url)
    upgrade(postgres_url)
    storage.upsert(engine, PEOPLE)
    live.enable(engine, wait=True)
    yield engine
    live.disable(engine)
    engine.dispose()


def _live_count(engine, definition=TASHKENT, **kwargs):
    with engine.connect() as conn:
        got = audience.count(conn, definition, **kwargs)
    assert "live" in got, "the count did not come from memory"
    return got


def test_once_enabled_counts_come_from_memory_with_their_figures(counted_live):
    got = _live_count(counted_live)
    assert got["matching"] == 20 and got["reachable"] == 20
    assert got["live"]["asked_database"] == 0


def test_a_changed_subscriber_counts_at_once(counted_live):
    storage.upsert(counted_live, [{"msisdn": PEOPLE[0]["msisdn"], "city": "Tashkent"}])
    assert _live_count(counted_live)["matching"] == 21


def test_a_new_subscriber_counts_at_once(counted_live):
    storage.upsert(counted_live, [{"msisdn": "+998935550000", "city": "Tashkent"}])
    assert _live_count(counted_live)["matching"] == 21


def test_a_deleted_subscriber_stops_counting_at_once(counted_live):
    with counted_live.begin() as conn:
        assert storage.delete_subscribers(conn, Subscriber.msisdn == PEOPLE[1]["msisdn"]) == 1
    assert _live_count(counted_live)["matching"] == 19


def test_an_opt_out_is_counted_apart_at_once(counted_live):
    with counted_live.begin() as conn:
        consent.opt_out(conn, [PEOPLE[3]["msisdn"]], "sms", source="test", actor="test")
    got = _live_count(counted_live)
    assert (got["matching"], got["opted_out"], got["reachable"]) == (20, 1, 19)


def test_the_sample_holds_reachable_subscribers_masked(counted_live):
    got = _live_count(counted_live, sample=3, scope=Scope(show_numbers=False))
    assert len(got["sample"]) == 3
    assert {s["city"] for s in got["sample"]} == {"Tashkent"}
    assert all(s["msisdn"] not in {p["msisdn"] for p in PEOPLE} for s in got["sample"])


def test_a_write_committed_after_a_count_that_began_before_it_still_counts(live_postgres):
    """The long import's case: its rows carry its transaction's start, earlier than the count that
    ran while it was open."""
    with live_postgres.connect() as writer:
        transaction = writer.begin()
        writer.execute(update(Subscriber).where(Subscriber.msisdn == PEOPLE[0]["msisdn"]).values(
            city="Tashkent", updated_at=func.now()))
        assert _live_count(live_postgres)["matching"] == 20  # not committed yet
        transaction.commit()
    assert _live_count(live_postgres)["matching"] == 21


_BUKHARA = Subscriber.city == "Bukhara"
_YOUNG = Subscriber.birth_date > date(1990, 1, 1)
_ASKED = Subscriber.last_name >= "K"  # text order: asked of the database
RAW = {  # conditions no definition writes today, where NULL and false differ under NOT
    "not_and": not_(and_(_BUKHARA, _YOUNG)),
    "not_or": not_(or_(_BUKHARA, _YOUNG)),
    "not_in": not_(Subscriber.city.in_(["Bukhara", "Tashkent"])),
    "not_not_in": not_(Subscriber.city.not_in(["Bukhara"])),
    "not_and_asked": not_(and_(_ASKED, _YOUNG)),
    "not_or_asked": not_(or_(_ASKED, _BUKHARA)),
    "not_in_subquery_with_null": not_(Subscriber.city.in_(select(Subscriber.city).where(Subscriber.id < 60))),
}


@pytest.mark.parametrize("name", sorted(RAW))
def test_three_valued_logic_is_kept_where_values_are_empty(base, name):
    engine, counts, _ = base
    with engine.connect() as conn:
        expected = conn.execute(select(func.count()).select_from(Subscriber).where(RAW[name])).scalar_one()
        assert Evaluator(counts.frame, conn).matches(RAW[name]).sum() == expected


def test_a_count_inside_a_transaction_is_answered_by_the_database(counted_live):
    """Its own uncommitted rows would otherwise enter the frame and stay there after a rollback."""
    with counted_live.begin() as conn:
        got = audience.count(conn, TASHKENT)
    assert got["matching"] == 20 and "live" not in got


def test_more_changes_than_a_refresh_reads_reload_the_frame_while_the_database_answers(counted_live, monkeypatch):
    monkeypatch.setattr(frames, "MAX_REFRESH_ROWS", 5)
    monkeypatch.setattr(live, "MIN_RELOAD_GAP", 0.0)  # reloads are otherwise a minute apart at least
    moved = [{"msisdn": p["msisdn"], "city": "Tashkent"} for p in PEOPLE[:12] if p["city"] != "Tashkent"]
    storage.upsert(counted_live, moved)
    with counted_live.connect() as conn:
        meanwhile = audience.count(conn, TASHKENT)
    assert meanwhile["matching"] == 26 and "live" not in meanwhile
    counts = live.counts_for_engine(counted_live)
    counts.loading.join()
    monkeypatch.undo()  # SQLite's refresh re-reads the last two seconds' rows: all 40 here
    assert _live_count(counted_live)["matching"] == 26


@pytest.mark.parametrize(("setting", "database", "expected"), [
    ("auto", "postgresql", True), ("auto", "sqlite", False), ("on", "sqlite", True), ("off", "postgresql", False)])
def test_live_counts_are_served_on_postgresql_unless_configured_otherwise(setting, database, expected):
    engine = make_engine("sqlite://" if database == "sqlite" else "postgresql+psycopg://postgres@127.0.0.1/postgres")
    assert live.wanted(engine, setting) is expected


def test_an_unknown_live_counts_setting_is_an_error_naming_it():
    with pytest.raises(ValueError, match="ENGAGE_LIVE_COUNTS must be auto, on or off, not 'yes'"):
        live.wanted(make_engine("sqlite://"), "yes")


def test_an_old_frame_keeps_serving_while_its_replacement_loads(counted_live, monkeypatch):
    monkeypatch.setattr(live, "RELOAD_EVERY", 0.0)
    counts = live.counts_for_engine(counted_live)
    old = counts.frame
    assert _live_count(counted_live)["matching"] == 20  # answered by the old frame
    counts.loading.join()
    assert counts.frame is not old
    assert _live_count(counted_live)["matching"] == 20


def test_a_forgotten_transaction_does_not_hold_the_watermark_back(live_postgres, monkeypatch):
    monkeypatch.setattr(frames, "LONG_TRANSACTION", timedelta(seconds=0.5))
    with live_postgres.connect() as idle:
        idle.begin()
        began = idle.execute(select(func.now())).scalar_one()
        time.sleep(1.0)
        _live_count(live_postgres)
        assert live.counts_for_engine(live_postgres).frame.watermark > began


def test_a_deletion_committed_after_a_later_one_still_stops_counting(live_postgres):
    with live_postgres.connect() as slow:
        transaction = slow.begin()
        storage.delete_subscribers(slow, Subscriber.msisdn == PEOPLE[1]["msisdn"])  # logged first
        with live_postgres.begin() as quick:
            storage.delete_subscribers(quick, Subscriber.msisdn == PEOPLE[3]["msisdn"])
        assert _live_count(live_postgres)["matching"] == 19
        transaction.commit()
    assert _live_count(live_postgres)["matching"] == 18


def test_an_empty_base_counts_from_memory_and_then_its_first_subscribers(engine):
    counts = live.enable(engine, wait=True)
    try:
        assert counts.frame is not None and len(counts.frame) == 0
        assert _live_count(engine)["matching"] == 0
        storage.upsert(engine, PEOPLE)
        assert _live_count(engine)["matching"] == 20
    finally:
        live.disable(engine)


def test_a_failed_load_is_tried_again_later(counted_live, monkeypatch):
    counts = live.counts_for_engine(counted_live)
    counts.frame, counts.error = None, "OperationalError: the database was away"
    monkeypatch.setattr(live, "MIN_RELOAD_GAP", 0.0)
    with counted_live.connect() as conn:
        assert "live" not in audience.count(conn, TASHKENT)
    counts.loading.join()
    assert _live_count(counted_live)["matching"] == 20
