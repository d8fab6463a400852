"""What a sender does with the database around a batch: claim the batch before sending,
record the outcomes after. One statement per kind of change, per batch.

The claim is what makes a batch that the broker delivers twice, or that the sweeper re-published,
go out once. A sender claims a batch by inserting its row in send_claims: only the sender whose row
went in sends it, and only the batch's messages that are still queued in that very batch (one the
sweeper or a failover moved to another batch since belongs to that batch). One row per batch: the
per-message claim (queued -> sending) was a fourth of the updates of every message row.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from engage.engine import metrics
from engage.engine import statuses as st
from engage.engine.events import record, record_batch
from engage.engine.providers.base import SendOutcome
from engage.engine.providers.message_ids import alternate_id, id_problem, moved_aside, normalise_id, storable_id
from engage.engine.store import batch_locks
from engage.engine.store.bulk import array_value, conflict_insert, insert_rows, one_of, update_from_values, update_ids
from engage.engine.store.failures import reason, transient
from engage.engine.store.schema import Message, MessagePart, SendClaim

messages = Message.__table__
parts = MessagePart.__table__
claims = SendClaim.__table__
log = logging.getLogger(__name__)

MAX_ROUTES = 3  # a message rejected by this many providers fails for good
UNRECORDED = "could not be recorded"  # the error of a message whose outcome the database refused

# The provider could not take the message at all (down, unreachable, overloaded): not a verdict on
# the message, so with no other route it waits for this provider again instead of failing.
PROVIDER_TROUBLE = {"smpp:connection", "smpp:timeout", "http:connection", "http:timeout",
                    "smpp:0x08", "smpp:0x14", "smpp:0x58", "smpp:0x64", "http:429", "http:503"}


def provider_trouble(error: str | None) -> bool:
    return error is not None and (error in PROVIDER_TROUBLE or (error.startswith("http:5") and len(error) == 8))


def claim(engine: Engine, provider_id: int, message_ids: Sequence[int], batch_id: str | None = None) -> set[int]:
    """Take a batch; returns the ids of its messages this sender now owns (none if another took it).

    A batch without an id (published before migration 0014) is claimed message by message."""
    with engine.begin() as conn:
        if batch_id is None:
            taken = update_ids(conn, messages, message_ids, {"status": st.SENDING, "claimed_at": func.now()},
                               where=(messages.c.status == st.QUEUED) & (messages.c.provider_id == provider_id),
                               returning=("id",))
            return {row[0] for row in taken}
        if not take_batches(conn, provider_id, [batch_id]):
            return set()
        return set(conn.execute(select(Message.id).where(
            one_of(conn, Message.id, message_ids), Message.batch_id == batch_id,
            Message.status == st.QUEUED, Message.provider_id == provider_id)).scalars())


def take_batches(conn: Connection, provider_id: int, batch_ids: Sequence[str]) -> set[str]:
    """Claim these batches; returns those this transaction won. The primary key decides, so a sender
    and the sweeper (moving a down provider's batches elsewhere) never both act on one batch."""
    won = set()
    batch_locks.share(conn, batch_ids)  # STOP sets no message of them aside meanwhile (store/batch_locks.py)
    for batch_id in sorted(batch_ids):  # one row per batch a sender takes; the sweeper's few, rarely
        row = conn.execute(conflict_insert(conn, claims).values(batch_id=batch_id, provider_id=provider_id)
                           .on_conflict_do_nothing().returning(claims.c.batch_id)).first()
        if row is not None:
            won.add(batch_id)
    return won


def record_outcomes(engine: Engine, provider_id: int, campaign_id: int, outcomes: Sequence[SendOutcome],
                    *, max_routes: int = MAX_ROUTES, autocommit: Connection | None = None) -> None:
    """Sent messages become submitted with one part row per provider id; failed ones fail over
    to the next route (back to pending, this provider remembered) or, out of routes, fail.

    A write that fails for a reason other than the database being away (a provider id the SMSC
    handed out before, one the database cannot hold) is done again carefully, and if need be
    message by message: what was submitted is always recorded, or the sweeper would send it again.
    Raises only what may succeed when tried again (see store.failures).

    autocommit: a connection the caller keeps, in autocommit, for outcomes that are all sent on
    PostgreSQL. Their write is one statement, so it needs no BEGIN and COMMIT around it, nor a
    connection taken from the pool (and pinged) for it: one round trip instead of four."""
    try:
        if autocommit is not None and autocommit.dialect.name == "postgresql" and all(o.ok for o in outcomes):
            _record_sent_at_once(autocommit, provider_id, campaign_id, _part_rows(provider_id, outcomes),
                                 [o.message_id for o in outcomes])
            autocommit.commit()  # SQLAlchemy's own bookkeeping: the server committed the statement already
        else:
            with engine.begin() as conn:
                _record(conn, provider_id, campaign_id, outcomes, max_routes, careful=False)
    except Exception as exc:
        if transient(exc):
            raise
        log.warning("provider %s: recording %d outcomes failed (%s); recording them one by one",
                    provider_id, len(outcomes), reason(exc))
        _record_carefully(engine, provider_id, campaign_id, outcomes, max_routes)
    sent = [o for o in outcomes if o.ok]
    if sent:
        metrics.submitted(provider_id, len(sent), sum(len(o.part_ids) for o in sent))
    for why, n in Counter(metrics.reason_class(o.error) for o in outcomes if not o.ok).items():
        metrics.failed(provider_id, why, n)
    # receipts that overtook their submit response are matched by the receipts worker's next look


def _record(conn: Connection, provider_id: int, campaign_id: int, outcomes: Sequence[SendOutcome],
            max_routes: int, *, careful: bool) -> None:
    """careful: these outcomes may have been recorded before (a try whose commit reached the server
    but not its answer, or one-by-one recording cut short), so what is there already is kept, and
    only the messages this call changes are told in events."""
    sent = [o for o in outcomes if o.ok]
    failed = [o for o in outcomes if not o.ok]
    # a long message that failed after some parts were accepted: those parts are out there and
    # their receipts must match, so they are recorded; the message fails rather than fail over
    partial = [o for o in failed if o.part_ids]
    rows = _part_rows(provider_id, sent + partial)
    if sent and not failed and not careful and conn.dialect.name == "postgresql":
        _record_sent_at_once(conn, provider_id, campaign_id, rows, [o.message_id for o in sent])
        return
    if careful:
        _insert_taking_ids_over(conn, provider_id, rows)
    else:
        insert_rows(conn, parts, rows)
    if sent:
        # a claim the sweeper took back meanwhile (status queued again) is still this send
        change = {"status": st.SUBMITTED, "submitted_at": func.now()}
        in_flight = messages.c.status.in_((st.SENDING, st.QUEUED))
        if careful:
            submitted = [r[0] for r in update_ids(conn, messages, [o.message_id for o in sent], change,
                                                  where=in_flight, returning=("id",))]
        else:  # every part row went in under its unique id: nothing of this batch was recorded before
            submitted = [o.message_id for o in sent]
            update_ids(conn, messages, submitted, change, where=in_flight)
        record_batch(conn, "submitted", campaign_id, submitted)
    if failed:
        _fail_over(conn, provider_id, campaign_id, failed, max_routes)


def _part_rows(provider_id: int, outcomes: Sequence[SendOutcome]) -> list[dict[str, Any]]:
    return [{"message_id": o.message_id, "part_no": i + 1, "provider_id": provider_id,
             "provider_message_id": (norm := normalise_id(pid)), "alt_message_id": alternate_id(norm),
             "status": st.SUBMITTED}
            for o in outcomes for i, pid in enumerate(o.part_ids)]


# The part rows, the messages' new status and their event in one statement: the sender waits for
# this write before it sends more (engine/delivery/recorder.py), and one statement with its rows as
# arrays takes PostgreSQL half the time of a COPY, an UPDATE and an INSERT (measured at 100 rows).
SENT_AT_ONCE = (
    "WITH new_parts AS (INSERT INTO message_parts (message_id, part_no, provider_id, provider_message_id, "
    "alt_message_id, status) SELECT m, p, %s, pid, alt, %s "
    "FROM unnest(%s::bigint[], %s::smallint[], %s::varchar[], %s::varchar[]) AS v(m, p, pid, alt)), "
    "sent AS (UPDATE messages SET status = %s, submitted_at = now() "
    "WHERE id = ANY(%s::bigint[]) AND status IN (%s, %s)) "
    "INSERT INTO events (kind, campaign_id, message_count, data) VALUES (%s, %s, %s, %s::json)")


def _record_sent_at_once(conn: Connection, provider_id: int, campaign_id: int, rows: list[dict[str, Any]],
                         sent: list[int]) -> None:
    """What _record does for a batch that was all sent (PostgreSQL): the part rows go in, the
    messages still in flight (a claim the sweeper took back meanwhile is still this send) become
    submitted, and one event tells of them all."""
    conn.exec_driver_sql(SENT_AT_ONCE, (
        provider_id, st.SUBMITTED, array_value([r["message_id"] for r in rows]),
        array_value([r["part_no"] for r in rows]), array_value([r["provider_message_id"] for r in rows]),
        array_value([r["alt_message_id"] for r in rows]), st.SUBMITTED, array_value(sent), st.SENDING, st.QUEUED,
        "submitted", campaign_id, len(sent), json.dumps({"message_ids": sent})))


def _record_carefully(engine: Engine, provider_id: int, campaign_id: int, outcomes: Sequence[SendOutcome],
                      max_routes: int) -> None:
    try:
        with engine.begin() as conn:
            _record(conn, provider_id, campaign_id, outcomes, max_routes, careful=True)
        return
    except Exception as exc:
        if transient(exc):
            raise
        if len(outcomes) > 1:
            for outcome in outcomes:
                _record_carefully(engine, provider_id, campaign_id, [outcome], max_routes)
            return
        why = reason(exc)
    _fail_unrecordable(engine, provider_id, campaign_id, outcomes[0], why)


def _fail_unrecordable(engine: Engine, provider_id: int, campaign_id: int, outcome: SendOutcome, why: str) -> None:
    """An outcome the database refuses however it is written fails its message for good: left in
    flight, the sweeper would send it again, and a long message's unrecorded parts would leave it
    `submitted` for ever. The event names the provider's ids, for a person to follow up."""
    log.error("provider %s: message %s: outcome %s could not be recorded (%s); the message fails", provider_id,
              outcome.message_id, "submitted" if outcome.ok else outcome.error, why)
    with engine.begin() as conn:
        changed = update_ids(conn, messages, [outcome.message_id],
                             {"status": st.FAILED, "error": UNRECORDED, "done_at": func.now()},
                             where=messages.c.status.in_((st.SENDING, st.QUEUED)), returning=("id",))
        if changed:
            record(conn, "failed", [{"campaign_id": campaign_id, "message_id": outcome.message_id, "data": {
                "error": UNRECORDED, "reason": why, "provider_id": provider_id, "outcome": outcome.error,
                "part_ids": [storable_id(normalise_id(pid)) for pid in outcome.part_ids]}}])


def _insert_taking_ids_over(conn: Connection, provider_id: int, rows: list[dict[str, Any]]) -> None:
    """Part rows whose ids an earlier part may hold: the newest submit takes the id over.

    An SMSC may hand out an id again (its counter started over after a restart, or it is buggy); a
    receipt quoting it then settles the newest message sent under it. The earlier part keeps its
    row under ``<id>~<its row id>`` (moved_aside), which no receipt quotes, and the id as its
    alt_message_id: a receipt that finds the newest message settled already settles it instead
    (receipts). Rows go in rounds of distinct ids, in the order they were sent, each id's holder
    moved aside first. A part recorded before (the same message, part and id, moved aside or not)
    is left as it is. An id the database cannot hold is recorded as its stand-in
    (message_ids.storable_id)."""
    for row in rows:
        row["provider_message_id"] = storable_id(row["provider_message_id"])
        if row["alt_message_id"] is not None and id_problem(row["alt_message_id"]) is not None:
            row["alt_message_id"] = None
    rounds: list[tuple[set[str], list[dict[str, Any]]]] = []
    for row in _not_recorded(conn, provider_id, rows):
        pid = row["provider_message_id"]
        free = next((r for r in rounds if pid not in r[0]), None)
        if free is None:
            free = (set(), [])
            rounds.append(free)
        free[0].add(pid)
        free[1].append(row)
    for ids, taken in rounds:
        held = conn.execute(select(MessagePart.id, MessagePart.provider_message_id).where(
            MessagePart.provider_id == provider_id, one_of(conn, MessagePart.provider_message_id, list(ids)))).all()
        if held:
            log.warning("provider %s handed out %d message ids again; the earlier parts keep them as <id>~<part>",
                        provider_id, len(held))
            update_from_values(conn, parts, "id", [
                {"id": part_id, "provider_message_id": moved_aside(pid, part_id), "alt_message_id": pid}
                for part_id, pid in held])
        insert_rows(conn, parts, taken)


def _not_recorded(conn: Connection, provider_id: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose part is not recorded yet: one is, if its message has that part under that id,
    or under that id moved aside."""
    if not rows:
        return rows
    recorded = set()
    for r in conn.execute(select(MessagePart.id, MessagePart.message_id, MessagePart.part_no,
                                 MessagePart.provider_message_id, MessagePart.alt_message_id).where(
            one_of(conn, MessagePart.message_id, list({row["message_id"] for row in rows})),
            MessagePart.provider_id == provider_id)):
        recorded.add((r.message_id, r.part_no, r.provider_message_id))
        if r.alt_message_id is not None and r.provider_message_id == moved_aside(r.alt_message_id, r.id):
            recorded.add((r.message_id, r.part_no, r.alt_message_id))
    return [row for row in rows if (row["message_id"], row["part_no"], row["provider_message_id"]) not in recorded]


def _fail_over(conn, provider_id: int, campaign_id: int, failed: Sequence[SendOutcome],  # noqa: ANN001
               max_routes: int) -> None:
    held = [o.message_id for o in failed if o.error == st.OPTED_OUT and not o.part_ids]
    if held:  # never sent: the recipient texted STOP after its batch was claimed (delivery/opt_outs.py)
        unsent = set(held)
        failed = [o for o in failed if o.message_id not in unsent]
        changed = [r[0] for r in update_ids(conn, messages, held, {"status": st.OPTED_OUT, "error": "opted out",
                                                                    "done_at": func.now()},
                                            where=messages.c.status.in_((st.SENDING, st.QUEUED)), returning=("id",))]
        record_batch(conn, st.OPTED_OUT, campaign_id, changed)
        if not failed:
            return
    tried_before = dict(conn.execute(select(Message.id, Message.tried_providers).where(
        Message.id.in_([o.message_id for o in failed]))).all())
    retry, final = [], []
    for o in failed:
        tried = [t for t in (tried_before.get(o.message_id) or "").split(",") if t] + [str(provider_id)]
        row = {"id": o.message_id, "error": (o.error or "failed")[:64], "tried_providers": ",".join(tried)}
        again = len(tried) < max_routes or provider_trouble(o.error)
        (retry if again and not o.part_ids else final).append(row)
    # only the messages this call takes out of flight are told: outcomes recorded twice fail over once
    in_flight = messages.c.status.in_((st.SENDING, st.QUEUED))
    if retry:
        retry = _take_out_of_flight(conn, retry, {"status": st.PENDING, "provider_id": None, "claimed_at": None},
                                    in_flight)
        record(conn, "failover", ({"campaign_id": campaign_id, "message_id": r["id"],
                                   "data": {"provider_id": provider_id, "error": r["error"]}} for r in retry))
    if final:
        final = _take_out_of_flight(conn, final, {"status": st.FAILED, "done_at": func.now()}, in_flight)
        record(conn, "failed", ({"campaign_id": campaign_id, "message_id": r["id"],
                                 "data": {"error": r["error"]}} for r in final))


def _take_out_of_flight(conn: Connection, rows: list[dict[str, Any]], change: dict[str, Any],
                        in_flight: Any) -> list[dict[str, Any]]:
    """The change for the rows' messages still in flight, then each row's own values (error, tried
    providers) for those; returns the rows it changed."""
    changed = {r[0] for r in update_ids(conn, messages, [r["id"] for r in rows], change, where=in_flight,
                                        returning=("id",))}
    rows = [r for r in rows if r["id"] in changed]
    update_from_values(conn, messages, "id", rows)
    return rows
