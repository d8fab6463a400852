"""Delivery receipts: matched to message parts by (provider, provider message id) as they
arrive, and stored either way. A receipt that matches nothing yet (it overtook its submit
response) is stored unmatched and matched when the submit is recorded: never dropped.

Ids are compared lower-cased, and also in the other base (message_ids.alternate_id): some
SMSCs answer a submit with a hex id and quote it in decimal in the receipt.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, false, func, select

from engage.engine import metrics
from engage.engine import statuses as st
from engage.engine.events import record, record_batch
from engage.engine.providers.message_ids import alternate_id, moved_aside, normalise_id
from engage.engine.receipts.inbound_checks import Batch, Unstorable, screen
from engage.engine.store.bulk import insert_rows, one_of, update_from_values, update_ids
from engage.engine.store.database import seconds_ago
from engage.engine.store.failures import reason, transient
from engage.engine.store.schema import InboundMessage, Message, MessagePart, Receipt

receipts = Receipt.__table__
parts = MessagePart.__table__
messages = Message.__table__

log = logging.getLogger(__name__)

SINGLE_PART = messages.c.parts.is_(None) | (messages.c.parts <= 1)
ALT_MATCH_AFTER = 2.0  # seconds: first give an unmatched receipt a chance to match its id as quoted


@dataclass(frozen=True)
class _Match:
    part_id: int
    message_id: int
    stat: str
    err: str | None
    quoted: tuple[int, str]  # (provider, id) the receipt quoted


def store(engine: Engine, provider_id: int, items: list[dict[str, Any]], inbound: list[dict[str, Any]]) -> None:
    """items: {"id", "stat", "err", "done_at" (ISO or None)} as the sender's sink published them.
    Matched and settled in the same transaction as they are stored."""
    store_batches(engine, [(provider_id, items, inbound)])


def store_all(engine: Engine, batches: Sequence[Batch]) -> list[Unstorable]:
    """Store what can be stored of these batches; returns the items that cannot be, with why.

    Items the database cannot hold are screened out first (inbound_checks). Should the write fail
    all the same, and not because the database is away (that is raised, to be tried again), the
    batches are halved until the item that fails is alone: one bad receipt costs a few more
    transactions, never the rest of the stream."""
    clean, unstorable = screen(list(batches))
    return unstorable + _store_halving(engine, clean)


def _store_halving(engine: Engine, batches: list[Batch]) -> list[Unstorable]:
    try:
        store_batches(engine, batches)
        return []
    except Exception as exc:
        if transient(exc):
            raise
        items = [(p, kind, item) for p, receipts_, inbound in batches
                 for kind, some in (("receipt", receipts_), ("inbound", inbound)) for item in some]
        if len(items) == 1:
            provider_id, kind, item = items[0]
            log.warning("provider %s: a %s could not be stored: %s", provider_id, kind, reason(exc))
            return [Unstorable(provider_id, kind, item, f"{kind} could not be stored: {reason(exc)}")]
        half = len(items) // 2
        return _store_halving(engine, _regroup(items[:half])) + _store_halving(engine, _regroup(items[half:]))


def _regroup(items: list[tuple[int, str, dict[str, Any]]]) -> list[Batch]:
    by_provider: dict[int, Batch] = {}
    for provider_id, kind, item in items:
        batch = by_provider.setdefault(provider_id, (provider_id, [], []))
        batch[1 if kind == "receipt" else 2].append(item)
    return list(by_provider.values())


def store_batches(engine: Engine, batches: Sequence[tuple[int, list[dict[str, Any]], list[dict[str, Any]]]]) -> None:
    """Several (provider_id, receipts, inbound) batches in one transaction: at thousands of
    receipts a second the commit, not the rows, is what costs."""
    with engine.begin() as conn:
        rows, matches, inbound_rows = [], [], []
        # each row with the message its sender named (providers.recent_submits), if any: no column of receipts
        by_provider: dict[int, list[tuple[dict[str, Any], int | None]]] = defaultdict(list)
        for provider_id, items, inbound in batches:
            for r in items:
                norm = normalise_id(r["id"])
                row = {"provider_id": provider_id, "provider_message_id": norm,
                       "alt_message_id": alternate_id(norm), "stat": r["stat"], "err": r.get("err"),
                       "matched": False, "orphaned": False,
                       "done_at": datetime.fromisoformat(r["done_at"]) if r.get("done_at") else None}
                rows.append(row)
                hint = r.get("ours")
                by_provider[provider_id].append(
                    (row, hint if type(hint) is int and r["stat"] in st.RECEIPT_FINAL else None))
            inbound_rows += [{"provider_id": provider_id, "source": m["source"], "destination": m["destination"],
                              "text": m["text"], "handled": False, "provider_ref": m.get("provider_ref")}
                             for m in inbound]
        # a named single-part message still in flight is settled by its id; any other is looked up
        for provider_id, named_rows in by_provider.items():
            named = {hint: st.RECEIPT_FINAL[row["stat"]] for row, hint in named_rows if hint is not None}
            settled = _settle(conn, named, SINGLE_PART & (messages.c.provider_id == provider_id)) if named else set()
            unsettled = []
            for row, hint in named_rows:
                row["matched"] = hint in settled
                if not row["matched"]:
                    unsettled.append(row)
            found = _parts_by_id(conn, provider_id, {r["provider_message_id"] for r in unsettled})
            for row in unsettled:
                part = found.get(row["provider_message_id"])
                if part is not None:
                    row["matched"] = True
                    matches.append(_Match(part[0], part[1], row["stat"], row["err"],
                                          (provider_id, row["provider_message_id"])))
        insert_rows(conn, receipts, rows)
        _apply(conn, matches)
        if inbound_rows:
            insert_rows(conn, InboundMessage.__table__, inbound_rows)
            record(conn, "inbound", ({"data": {"provider_id": m["provider_id"], "source": m["source"]}}
                                     for m in inbound_rows))
    for provider_id, named_rows in by_provider.items():
        metrics.receipts(provider_id, Counter(row["stat"] for row, _ in named_rows))


def _parts_by_id(conn: Connection, provider_id: int, ids: set[str],
                 by: Any = MessagePart.provider_message_id) -> dict[str, tuple[int, int]]:
    """id -> (part id, message id), looking the ids up in column `by`.

    An index lookup rather than a join: with a young table's missing statistics (autovacuum off,
    or not yet run) PostgreSQL may plan a join as a scan of every part or message.
    """
    if not ids:
        return {}
    found = conn.execute(select(by, MessagePart.id, MessagePart.message_id).where(
        MessagePart.provider_id == provider_id, one_of(conn, by, list(ids)))).all()
    return {r[0]: (r[1], r[2]) for r in found}


def match_pending(engine: Engine, limit: int = 5000) -> int:
    """Match stored receipts that matched nothing when they arrived, and settle their messages.

    A receipt older than ALT_MATCH_AFTER is also tried in the other base: by then it is not
    merely early, so its id may be the submit's id spelt in decimal (or hex)."""
    with engine.begin() as conn:
        pending = conn.execute(select(Receipt.id, Receipt.provider_id, Receipt.provider_message_id,
                                      Receipt.alt_message_id, Receipt.stat, Receipt.err, Receipt.received_at)
                               .where(Receipt.matched == false(), Receipt.orphaned == false())
                               .order_by(Receipt.id).limit(limit)).all()
        if not pending:
            return 0
        old_enough = seconds_ago(engine, ALT_MATCH_AFTER)
        by_provider: dict[int, list[Any]] = defaultdict(list)
        for r in pending:
            by_provider[r.provider_id].append(r)
        matched, matches = [], []
        for provider_id, rows in by_provider.items():
            old = [r for r in rows if r.received_at is not None and r.received_at < old_enough]
            as_quoted = _parts_by_id(conn, provider_id, {r.provider_message_id for r in rows}
                                     | {r.alt_message_id for r in old if r.alt_message_id})
            by_alternate = _parts_by_id(conn, provider_id, {r.provider_message_id for r in old},
                                        by=MessagePart.alt_message_id)
            old_ids = {r.id for r in old}
            for r in rows:
                part = as_quoted.get(r.provider_message_id)
                if part is None and r.id in old_ids:
                    part = as_quoted.get(r.alt_message_id or "") or by_alternate.get(r.provider_message_id)
                if part is not None:
                    matched.append(r.id)
                    matches.append(_Match(part[0], part[1], r.stat, r.err, (provider_id, r.provider_message_id)))
        if not matched:
            return 0
        update_ids(conn, receipts, matched, {"matched": True})
        _apply(conn, matches)
    return len(matched)


def orphan_stale(engine: Engine, older_than: float) -> int:
    """Receipts that matched nothing for this long stop being re-scanned; they stay stored and counted."""
    with engine.begin() as conn:
        return conn.execute(receipts.update().where(
            receipts.c.matched == false(), receipts.c.orphaned == false(),
            receipts.c.received_at < seconds_ago(engine, older_than)).values(orphaned=True)).rowcount


def _apply(conn: Connection, matches: Sequence[_Match]) -> None:
    """Final receipts settle a single-part message at once; a long message's parts take their
    receipt's status, and the message is settled once all of them are final.

    Every receipt is first taken for its message's only part, in the statement that settles it: the
    messages that statement leaves alone are the few long ones (and repeats), and only they are read
    again. A single part keeps `submitted`: its message says the rest, and so does its receipt row
    (`engage bench send` at a million messages: this update of every part was a seventh of
    PostgreSQL's time, read by nobody)."""
    final = [m for m in matches if m.stat in st.RECEIPT_FINAL]
    if not final:
        return
    settled = _settle(conn, {m.message_id: st.RECEIPT_FINAL[m.stat] for m in final}, SINGLE_PART)
    rest = [m for m in final if m.message_id not in settled]
    if not rest:
        return
    long = set(conn.execute(select(Message.id).where(
        one_of(conn, Message.id, list({m.message_id for m in rest})), Message.parts > 1)).scalars())
    _settle_earlier_holders(conn, [m for m in rest if m.message_id not in long])
    update_from_values(conn, parts, "id", [{"id": m.part_id, "status": st.RECEIPT_FINAL[m.stat], "error": m.err}
                                           for m in rest if m.message_id in long], extra={"done_at": func.now()})
    _settle(conn, _multipart_outcomes(conn, long), messages.c.parts > 1)


def _settle_earlier_holders(conn: Connection, matches: Sequence[_Match]) -> None:
    """Final receipts whose id's part belongs to a message settled already: either a repeat, or the
    provider handed that id out again, and an earlier message sent under it still waits for this
    receipt. Its part was moved aside (message_ids.moved_aside: ``<id>~<part>``, a long id cut to fit, the
    id kept as alt_message_id); the newest such message still in flight is settled. A repeat finds
    none and changes nothing."""
    if not matches:
        return
    quoted = {m.quoted: m for m in matches}
    rows = conn.execute(select(MessagePart.id, MessagePart.provider_id, MessagePart.alt_message_id,
                               MessagePart.provider_message_id, MessagePart.message_id)
                        .join(Message, Message.id == MessagePart.message_id)
                        .where(one_of(conn, MessagePart.alt_message_id, list({q[1] for q in quoted})),
                               Message.status.in_(st.SETTLEABLE), SINGLE_PART)
                        .order_by(MessagePart.id.desc())).all()
    outcome: dict[int, str] = {}
    for r in rows:
        match = quoted.pop((r.provider_id, r.alt_message_id), None)
        if match is not None and r.provider_message_id == moved_aside(r.alt_message_id, r.id):
            outcome[r.message_id] = st.RECEIPT_FINAL[match.stat]
        elif match is not None:  # a part whose id merely reads as this one in the other base
            quoted[(r.provider_id, r.alt_message_id)] = match
    if outcome:
        _settle(conn, outcome, SINGLE_PART)


def _settle(conn: Connection, outcome: dict[int, str], which: Any) -> set[int]:
    """Messages still in flight, or unconfirmed (their receipt came after the receipt timeout), take
    their final status, with one event per campaign and status; returns those that changed. A
    repeated receipt changes nothing, and records nothing."""
    by_status: dict[str, list[int]] = defaultdict(list)
    for message_id, status in outcome.items():
        by_status[status].append(message_id)
    settled: set[int] = set()
    for status, ids in by_status.items():
        changed = update_ids(conn, messages, ids, {"status": status, "done_at": func.now()},
                             where=messages.c.status.in_(st.SETTLEABLE) & which, returning=("id", "campaign_id"))
        by_campaign: dict[int, list[int]] = defaultdict(list)
        for message_id, campaign_id in changed:
            by_campaign[campaign_id].append(message_id)
            settled.add(message_id)
        for campaign_id, changed_ids in by_campaign.items():
            record_batch(conn, status, campaign_id, changed_ids)
    return settled


def _multipart_outcomes(conn: Connection, message_ids: Iterable[int]) -> dict[int, str]:
    ids = list(message_ids)
    if not ids:
        return {}
    by_message: dict[int, list[str]] = defaultdict(list)
    for message_id, status in conn.execute(select(MessagePart.message_id, MessagePart.status).where(
            MessagePart.message_id.in_(ids))):
        by_message[message_id].append(status)
    out = {}
    for message_id, statuses in by_message.items():
        combined = st.combine_parts(statuses)
        if combined is not None:
            out[message_id] = combined
    return out
