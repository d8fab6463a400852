"""MOs stored by the receipts worker -> handled: de-duplicated, matched, acted on, marked, and
attributed as a reply to the campaign that last reached the number (`replied`).

An SMSC that lost our deliver_sm_resp sends the same MO again; so does a gateway that timed out on
its callback. The same text from the same number to the same destination within DUPLICATE_WINDOW of
one already handled is that MO again, and so is, at any time, one with the same id from the same
provider (provider_ref: the gateway's own id, where its callback gives one): it is kept (nothing is
dropped) and marked as a duplicate of the first, which alone acted. Each MO gets one `keyword` event
saying what it was and what was done.

Batched: one query for the MOs waiting, one for their possible originals, one update for the
marks; the actions themselves write what they change.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, select

from engage import config
from engage.engine.campaigns.kinds import REPLY_KIND
from engage.engine.campaigns.trial_sends import TEST_KIND
from engage.engine.events import record
from engage.engine.keywords import definitions, webhooks
from engage.engine.keywords import replies as replies_
from engage.engine.keywords.actions import ACTIONS, Asked, Inbound
from engage.engine.keywords.definitions import Definition
from engage.engine.keywords.matching import Match
from engage.engine.keywords.steps import STEPS
from engage.engine.phones import InvalidNumber, to_e164
from engage.engine.store.bulk import update_from_values
from engage.engine.store.database import aware
from engage.engine.store.failures import reason, transient
from engage.engine.store.schema import Campaign, InboundMessage, Message

log = logging.getLogger(__name__)

BATCH = 500
DUPLICATE_WINDOW = timedelta(minutes=2)
inbound = InboundMessage.__table__


def handle_pending(engine: Engine, *, limit: int = BATCH) -> int:
    """Handle up to ``limit`` MOs not yet handled, oldest first; returns how many."""
    settings = config.load()
    calls: list[tuple[str, dict[str, Any]]] = []
    with engine.begin() as conn:
        query = (select(InboundMessage).where(InboundMessage.handled.is_(False))
                 .order_by(InboundMessage.id).limit(limit))
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        waiting = conn.execute(query).all()
        if not waiting:
            return 0
        seen = _handled_before(conn, waiting)
        refs = _refs_before(conn, waiting)
        known = definitions.load(conn)
        marks, told, fresh = [], [], []  # fresh: (MO, its sender in E.164 or why not, match, its keyword row)
        outcome: dict[int, dict[str, Any]] = {}
        for mo in waiting:
            key = (mo.source, mo.destination, mo.text)
            at = aware(mo.received_at)
            first = seen.get(key)
            found, row = known.find(mo.text, mo.destination)
            mark: dict[str, Any] = {"id": mo.id, "handled": True, "keyword": found.keyword or found.word[:32] or None,
                                    "duplicate_of": None}
            data: dict[str, Any] = {"inbound_id": mo.id, "provider_id": mo.provider_id,
                                    "keyword": found.keyword, "word": found.word[:32]}
            ref = (mo.provider_id, mo.provider_ref) if mo.provider_ref else None
            original = refs.get(ref) if ref else None
            if original is None and first is not None and at - first[1] <= DUPLICATE_WINDOW:
                original = first[0]
            if original is not None:
                mark["duplicate_of"] = original
                data["duplicate_of"] = original
            else:
                seen[key] = (mo.id, at)
                if ref:
                    refs[ref] = mo.id
                outcome[mo.id] = data
                fresh.append((mo, _number(mo.source, settings.default_region), found, row))
            marks.append(mark)
            told.append({"data": data})
        replied = attribute(conn, [(mo, number, found.keyword) for mo, number, found, _ in fresh],
                            timedelta(hours=settings.reply_window))
        answers = {e["data"]["inbound_id"]: e["campaign_id"] for e in replied}
        for mark in marks:
            mark["campaign_id"] = answers.get(mark["id"])
        calls = _act_all(conn, fresh, answers, outcome)
        update_from_values(conn, inbound, "id", marks)
        record(conn, "keyword", told)
        record(conn, "replied", replied)
    webhooks.call(engine, calls)
    return len(waiting)


def _act_all(conn: Connection, fresh: list[tuple[Row, str | InvalidNumber, Match, Definition | None]],
             answers: dict[int, int], outcome: dict[int, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each keyword's built-in action, its steps and its reply, each on its MOs together; returns the
    webhook calls to make once this is committed."""
    actions: dict[str, Asked] = defaultdict(list)
    steps: dict[tuple[int, int], Asked] = defaultdict(list)  # (keyword row, step index) -> its MOs
    rows: dict[int, Definition] = {}
    replies: list[tuple[Inbound, int]] = []
    for mo, number, found, row in fresh:
        said = outcome[mo.id]
        if found.keyword is None and row is None:
            said["outcome"] = "unknown"
            continue
        if isinstance(number, InvalidNumber):
            said.update({"outcome": "not a phone number", "reason": str(number)[:200]})
            continue
        one = (Inbound(mo.id, mo.provider_id, number, mo.destination, mo.text, aware(mo.received_at),
                       answers.get(mo.id)), found)
        said["outcome"] = "unknown" if found.keyword is None else "done"
        if found.keyword in ACTIONS:
            actions[found.keyword].append(one)
        if row is not None:
            rows[row.id] = row
            for i, _ in enumerate(row.steps):
                steps[(row.id, i)].append(one)
            if row.reply_template_id is not None:
                replies.append((one[0], row.reply_template_id))
    calls = []
    for keyword, group in actions.items():
        _settle(outcome, group, _act(conn, f"keyword {keyword}", group,
                                     lambda g, keyword=keyword: ACTIONS[keyword](conn, g)))
    for (row_id, i), group in steps.items():
        spec = rows[row_id].steps[i]
        run = STEPS[spec["kind"]].run if spec.get("kind") in STEPS else None
        done = _act(conn, f"keyword {rows[row_id].word} step {spec.get('kind')}", group,
                    lambda g, run=run, spec=spec: run(conn, g, spec) if run else [
                        {"outcome": "failed", "reason": f"no step {spec.get('kind')!r}"} for _ in g])
        _settle(outcome, group, done)
        calls += [(spec["url"], _payload(mo, found)) for (mo, found), d in zip(group, done, strict=True)
                  if spec.get("kind") == "webhook" and d.get("outcome") != "failed"]
    if replies:
        group = [(mo, Match(None, "", "")) for mo, _ in replies]
        by_id = dict(zip((mo.id for mo, _ in replies), (t for _, t in replies), strict=True))
        _settle(outcome, group, _act(conn, "keyword replies", group,
                                     lambda g: replies_.queue(conn, [(mo, by_id[mo.id]) for mo, _ in g])))
    return calls


def _settle(outcome: dict[int, dict[str, Any]], group: Asked, done: list[dict[str, Any]]) -> None:
    for (mo, _), what in zip(group, done, strict=True):
        said = outcome[mo.id]
        if what.get("outcome") == "failed":
            said.setdefault("failed", []).append(what.get("reason"))
            said["outcome"] = "failed"
        said.update({k: v for k, v in what.items() if k != "outcome"})


def _payload(mo: Inbound, found: Match) -> dict[str, Any]:
    return {"inbound_id": mo.id, "keyword": found.keyword, "from": mo.number, "to": mo.destination,
            "text": mo.text, "received_at": mo.received_at.isoformat(), "campaign_id": mo.campaign_id}


def _number(source: str, region: str) -> str | InvalidNumber:
    """The MO's sender in E.164, or why it is not a phone number (a sender id such as "MTN-INFO")."""
    try:
        return to_e164(source, region)
    except InvalidNumber as exc:
        return exc


def _act(conn: Connection, what: str, group: Asked,
         run: Callable[[Asked], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One unit's work on its MOs together; if that fails, on each alone, so that a failing one
    undoes only itself and holds up no other."""
    try:
        with conn.begin_nested():
            return run(group)
    except Exception as exc:
        if transient(exc):
            raise  # the database is away: the whole batch is tried again
        if len(group) == 1:
            log.exception("%s on inbound message %s failed", what, group[0][0].id)
            return [{"outcome": "failed", "reason": reason(exc)}]
    return [_act(conn, what, [one], run)[0] for one in group]


def attribute(conn: Connection, replies: list[tuple[Row, str | InvalidNumber, str | None]],
              window: timedelta) -> list[dict[str, Any]]:
    """Each MO as a `replied` event of the campaign whose message reached its sender last within
    ``window`` before it (test sends and keyword replies aside): what a campaign's response rate
    counts. One query."""
    numbers = {number for _, number, _ in replies if isinstance(number, str)}
    if not numbers:
        return []
    since = min(aware(mo.received_at) for mo, _, _ in replies) - window
    sent: dict[str, list[tuple[datetime, int, int]]] = {}
    for msisdn, at, message_id, campaign_id in conn.execute(
            select(Message.msisdn, Message.submitted_at, Message.id, Message.campaign_id)
            .join(Campaign, Campaign.id == Message.campaign_id)  # a test send's recipients are staff
            .where(Message.msisdn.in_(sorted(numbers)), Message.submitted_at >= since,
                   Campaign.kind.not_in((TEST_KIND, REPLY_KIND)))
            .order_by(Message.submitted_at)):
        sent.setdefault(msisdn, []).append((aware(at), message_id, campaign_id))
    events = []
    for mo, number, keyword in replies:
        received = aware(mo.received_at)
        to_number = sent.get(number, []) if isinstance(number, str) else []
        before = [m for m in to_number if received - window <= m[0] <= received]
        if before:
            _, message_id, campaign_id = before[-1]
            events.append({"campaign_id": campaign_id, "message_id": message_id,
                           "data": {"inbound_id": mo.id, "keyword": keyword}})
    return events


def _handled_before(conn, waiting: Sequence[Row]) -> dict[tuple[str, str, str], tuple[int, datetime]]:  # noqa: ANN001
    """(source, destination, text) -> the latest handled MO that is no repeat itself, of those within the
    window before the oldest waiting: what a waiting MO with that key repeats, if recent enough."""
    since = min(aware(mo.received_at) for mo in waiting) - DUPLICATE_WINDOW
    sources = sorted({mo.source for mo in waiting})
    rows = conn.execute(select(InboundMessage.id, InboundMessage.source, InboundMessage.destination,
                               InboundMessage.text, InboundMessage.received_at).where(
        InboundMessage.handled.is_(True), InboundMessage.duplicate_of.is_(None),
        InboundMessage.source.in_(sources), InboundMessage.received_at >= since)
        .order_by(InboundMessage.id)).all()
    found: dict[tuple[str, str, str], tuple[int, datetime]] = {}
    for row in rows:
        found[(row.source, row.destination, row.text)] = (row.id, aware(row.received_at))
    return found


def _refs_before(conn, waiting: Sequence[Row]) -> dict[tuple[int, str], int]:  # noqa: ANN001
    """(provider, the gateway's id of the MO) -> the handled MO that first had it, however long ago."""
    refs = sorted({(mo.provider_id, mo.provider_ref) for mo in waiting if mo.provider_ref})
    if not refs:
        return {}
    rows = conn.execute(select(InboundMessage.id, InboundMessage.provider_id, InboundMessage.provider_ref).where(
        InboundMessage.handled.is_(True), InboundMessage.duplicate_of.is_(None),
        InboundMessage.provider_ref.in_(sorted({ref for _, ref in refs})),
        InboundMessage.provider_id.in_(sorted({p for p, _ in refs}))).order_by(InboundMessage.id.desc())).all()
    return {(row.provider_id, row.provider_ref): row.id for row in rows}
