"""A bulk point load decided by a second person: approved and posted, or rejected with a reason.

The uploader never approves their own load. Approving moves the load from pending to "approved" in
one conditional UPDATE (two approvers at once: one wins, the other is told), then posts its good rows
in batches through ledger.post_credits and writes each row's entry back, and ends "posted" with its
counts. Given an Engine, each batch is its own transaction (a load of a million rows holds no lock for
minutes): a process that dies half-way leaves the load "approved", and approving it again posts the
rest. Nothing ever posts twice: each row's external id is its entry's idempotency key in the
programme's source "bulk:<programme id>", whichever load, batch or retry gives it again.

Rows post as "earn" entries (cause "bulk", cause_id the load): a load gives members points the
operator grants them (a promotion, a goodwill gesture, purchases made elsewhere), which count as
issued and towards levels like any other points earned; "adjust" is kept for a person's correction
of one member's balance, which earns no level. Points live as the programme says from the moment
they are posted. A member closed or suspended since the file was read gets the problem then, and
with enrol, subscribers not yet members are enrolled ("bulk") in the batch that posts their row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from engage.engine.audit import audit
from engage.engine.loyalty import ledger, members, programmes
from engage.engine.loyalty.ledger import Credit
from engage.engine.loyalty.loads import LoadError, decided_words, get_load, recount, source_of, summary
from engage.engine.store.bulk import one_of, update_from_values
from engage.engine.store.schema import LoyaltyEntry, LoyaltyLoad, LoyaltyLoadRow, LoyaltyMember, Subscriber

BATCH = 5_000
MAX_DECISION_REASON = 200


def approve(db: Engine | Connection, load_id: int, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
    """Approve and post the load; its summary. LoadError for the uploader, or a load that is not
    pending (one left "approved" by an interrupted posting is finished)."""
    transaction = _transactions(db)
    with transaction() as conn:
        load = _claim(conn, load_id, actor)
        programme = programmes.get(conn, load.programme_id)
    now = now or datetime.now(UTC)
    last = 0
    while True:
        with transaction() as conn:
            batch = conn.execute(select(LoyaltyLoadRow).where(
                LoyaltyLoadRow.load_id == load_id, LoyaltyLoadRow.problem.is_(None),
                LoyaltyLoadRow.entry_id.is_(None), LoyaltyLoadRow.line > last)
                .order_by(LoyaltyLoadRow.line).limit(BATCH)).all()
            if not batch:
                break
            _post(conn, programme, load_id, batch, actor, now)
            last = batch[-1].line
    with transaction() as conn:
        counts = recount(conn, load_id)
        conn.execute(update(LoyaltyLoad).where(LoyaltyLoad.id == load_id).values(state="posted"))
        audit(conn, actor, "loyalty.load.posted", "loyalty_load", load_id, **counts)
        return summary(conn, load_id) or {}


def reject(conn: Connection, load_id: int, *, actor: str, reason: str) -> dict[str, Any]:
    """Reject a pending load (nothing is posted); its summary."""
    reason = (reason or "").strip()
    if not reason:
        raise LoadError("reason: say why the load is rejected")
    if len(reason) > MAX_DECISION_REASON:
        raise LoadError(f"reason: {len(reason)} characters, more than {MAX_DECISION_REASON}")
    load = get_load(conn, load_id)
    done = conn.execute(update(LoyaltyLoad).where(LoyaltyLoad.id == load_id, LoyaltyLoad.state == "pending").values(
        state="rejected", decided_by=actor, decided_at=datetime.now(UTC), decision_reason=reason))
    if done.rowcount != 1:
        raise LoadError(f"load {load_id}: not pending: {decided_words(get_load(conn, load_id))}")
    audit(conn, actor, "loyalty.load.reject", "loyalty_load", load_id, filename=load.filename, reason=reason)
    return summary(conn, load_id) or {}


def _transactions(db: Engine | Connection) -> Callable[[], AbstractContextManager[Connection]]:
    """An Engine: a transaction each; a Connection: the caller's transaction, for every step."""
    if isinstance(db, Connection):
        return lambda: nullcontext(db)
    return db.begin


def _claim(conn: Connection, load_id: int, actor: str) -> Any:
    load = get_load(conn, load_id)
    if load.uploaded_by.strip().lower() == actor.strip().lower():
        raise LoadError(f"load {load_id}: {actor} uploaded it; another person approves it")
    if load.state == "approved":  # an earlier approval stopped half-way: finish it
        audit(conn, actor, "loyalty.load.approve", "loyalty_load", load_id, filename=load.filename, resumed=True)
        return load
    done = conn.execute(update(LoyaltyLoad).where(LoyaltyLoad.id == load_id, LoyaltyLoad.state == "pending").values(
        state="approved", decided_by=actor, decided_at=datetime.now(UTC)))
    if done.rowcount != 1:
        raise LoadError(f"load {load_id}: not pending: {decided_words(get_load(conn, load_id))}")
    audit(conn, actor, "loyalty.load.approve", "loyalty_load", load_id, filename=load.filename,
          rows=load.rows_good, points=load.points_total)
    return load


def _post(conn: Connection, programme: programmes.Programme, load_id: int, batch: Sequence[Any], actor: str,
          now: datetime) -> None:
    """One batch: enrol who must be, check the members are still active, post, write the entries back."""
    member_of = _enrolled(conn, programme.id, [r.msisdn for r in batch if r.member_id is None])
    rows = {r.line: {"line": r.line, "member_id": r.member_id if r.member_id is not None else member_of.get(r.msisdn),
                     "entry_id": None, "problem": None} for r in batch}
    status = dict(conn.execute(select(LoyaltyMember.id, LoyaltyMember.status).where(one_of(
        conn, LoyaltyMember.id, sorted({row["member_id"] for row in rows.values() if row["member_id"]})))).all()) \
        if any(row["member_id"] for row in rows.values()) else {}
    credits = []
    for r in batch:
        row = rows[r.line]
        if row["member_id"] is None:
            row["problem"] = "msisdn: no such subscriber (any more)"
        elif status.get(row["member_id"]) != "active":
            state = status.get(row["member_id"], "gone")
            row["problem"] = f"msisdn: the member is {state}: a {state} member earns no points"
        else:
            credits.append(Credit(row["member_id"], r.points, now, "bulk", source_of(programme.id), r.external_id,
                                  expires_at=programme.expiry_of(now), kind="earn", cause_id=str(load_id),
                                  actor=actor, reason=r.reason))
    entry_of = {c.idem_key: entry_id for c, entry_id in ledger.post_credits(conn, credits)}
    missed = sorted({c.idem_key for c in credits} - set(entry_of))
    if missed:  # posted before, by another load since this one was read (or a retry of this one)
        entry_of.update(conn.execute(select(LoyaltyEntry.idem_key, LoyaltyEntry.id).where(
            LoyaltyEntry.source == source_of(programme.id), one_of(conn, LoyaltyEntry.idem_key, missed))).all())
    for r in batch:
        if rows[r.line]["problem"] is None:
            rows[r.line]["entry_id"] = entry_of.get(r.external_id)
    update_from_values(conn, LoyaltyLoadRow.__table__, "line", list(rows.values()),
                       where=LoyaltyLoadRow.load_id == load_id)


def _enrolled(conn: Connection, programme_id: int, numbers: Sequence[str]) -> dict[str, int]:
    """Number -> member id for these subscribers, enrolled ("bulk") when they are not members yet."""
    numbers = sorted(set(numbers))
    if not numbers:
        return {}
    subscribers = conn.execute(select(Subscriber.id).where(one_of(conn, Subscriber.msisdn, numbers))).scalars().all()
    members.enrol(conn, programme_id, list(subscribers), "bulk")
    return dict(conn.execute(select(Subscriber.msisdn, LoyaltyMember.id).join(
        LoyaltyMember, LoyaltyMember.subscriber_id == Subscriber.id).where(
        LoyaltyMember.programme_id == programme_id, one_of(conn, Subscriber.msisdn, numbers))).all())
