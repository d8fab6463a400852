"""What each keyword does: a registry of small units, one function per keyword, so that a new one
(loyalty's BAL and JOIN) is added beside these without touching the matcher or the handler.

An action runs in the transaction that marks its MOs handled, so an MO acts once, or not at all and
is tried again. It takes a keyword's MOs of one batch together and returns what it did for each,
which the MO's `keyword` event carries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select, update

from engage.engine import consent
from engage.engine import statuses as st
from engage.engine.events import record_batches
from engage.engine.keywords.matching import Match
from engage.engine.store import batch_locks
from engage.engine.store.bulk import one_of
from engage.engine.store.schema import Message, OptOut, SendClaim


@dataclass(frozen=True)
class Inbound:
    """A stored MO, as an action sees it."""

    id: int
    provider_id: int
    number: str  # the sender, E.164
    destination: str  # the short code or sender id it was sent to
    text: str
    received_at: datetime
    campaign_id: int | None = None  # the campaign it replies to (handling.attribute), if any


Asked = list[tuple[Inbound, Match]]  # a keyword's MOs of one handler batch, in order
# An action takes them together (a statement per kind of change, not per MO) and returns what it did
# for each, in the same order.
Action = Callable[[Connection, Asked], list[dict[str, Any]]]
ACTIONS: dict[str, Action] = {}


def action(keyword: str) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        ACTIONS[keyword] = fn
        return fn
    return register


@action("STOP")
def opt_out(conn: Connection, asked: Asked) -> list[dict[str, Any]]:
    """Opted out of SMS, and every message to the number not yet with a sender is set aside as
    `opted_out` (counted in its campaign), wherever it waits: pending, held for its hour, or queued."""
    numbers = [mo.number for mo, _ in asked]
    before = set(conn.execute(select(OptOut.msisdn).where(OptOut.channel == "sms",
                                                          one_of(conn, OptOut.msisdn, numbers))).scalars())
    consent.opt_out(conn, numbers, "sms", source="keyword STOP", actor="subscriber (SMS)")
    aside = set_aside(conn, numbers)
    out, seen = [], set()
    for number in numbers:  # a number that texted STOP twice in one batch: the first did it
        out.append({"opted_out": number not in before and number not in seen, "set_aside": aside.pop(number, 0)})
        seen.add(number)
    return out


@action("START")
def opt_in(conn: Connection, asked: Asked) -> list[dict[str, Any]]:
    numbers = [mo.number for mo, _ in asked]
    was_out = set(conn.execute(select(OptOut.msisdn).where(OptOut.channel == "sms",
                                                           one_of(conn, OptOut.msisdn, numbers))).scalars())
    consent.opt_in(conn, numbers, "sms", source="keyword START", actor="subscriber (SMS)")
    out = []
    for number in numbers:
        out.append({"opted_in": number in was_out})
        was_out.discard(number)
    return out


@action("HELP")
def help_asked(conn: Connection, asked: Asked) -> list[dict[str, Any]]:
    return [{"help": True} for _ in asked]


def set_aside(conn: Connection, numbers: list[str]) -> dict[str, int]:
    """The numbers' messages no sender has yet become `opted_out`, in one statement; one event per
    campaign names them; returns how many per number. A queued one whose batch a sender has claimed
    is the sender's to hold back (delivery/opt_outs.py): it may be on the wire already, and then it
    is submitted, not set aside."""
    numbers = sorted(set(numbers))
    batch_locks.hold(conn, conn.execute(select(Message.batch_id).distinct().where(  # see store/batch_locks.py
        one_of(conn, Message.msisdn, numbers), Message.status == st.QUEUED, Message.batch_id.is_not(None))).scalars())
    claimed = select(SendClaim.batch_id).where(SendClaim.batch_id == Message.batch_id)
    unsent = or_(Message.status.in_((st.PENDING, st.HELD)), and_(Message.status == st.QUEUED, ~exists(claimed)))
    taken = conn.execute(update(Message).where(one_of(conn, Message.msisdn, numbers), unsent)
                         .values(status=st.OPTED_OUT, error="opted out", done_at=func.now())
                         .returning(Message.id, Message.campaign_id, Message.msisdn)).all()
    by_campaign: dict[int, list[int]] = defaultdict(list)
    per_number: dict[str, int] = defaultdict(int)
    for message_id, campaign_id, number in taken:
        by_campaign[campaign_id].append(message_id)
        per_number[number] += 1
    for campaign_id, ids in by_campaign.items():
        record_batches(conn, st.OPTED_OUT, campaign_id, sorted(ids))
    return per_number
