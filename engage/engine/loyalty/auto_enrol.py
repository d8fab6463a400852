"""Enrolling whoever a saved segment selects: once, from the command line, or by itself every hour
for a programme whose settings name the segment (`enrol_segment`), so that a subscriber who comes to
match (a new prepaid line, a customer who crosses a spend) joins without anyone acting, with
"segment" as the way they came. A member who left (closed) is not enrolled again.

Set-based: one query finds the subscribers the segment selects who are not members yet, then they
are enrolled a batch per transaction (members.enrol)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, exists, select

from engage.engine.loyalty import members, programmes
from engage.engine.segments.audience import condition
from engage.engine.segments.errors import SegmentError
from engage.engine.store.bulk import chunks
from engage.engine.store.schema import LoyaltyMember, LoyaltyProgramme, Subscriber

ENROL_SEGMENT = programmes.ENROL_SEGMENT


def enrol_segment(engine: Engine, programme_id: int, segment_id: int) -> dict[str, int]:
    """Enrol the segment's subscribers who are not members of the programme; SegmentError (naming
    the segment) when it does not exist or cannot be compiled."""
    with engine.connect() as conn:
        selects = condition(conn, {"kind": "in_segment", "segment_id": segment_id})
        member = exists().where(and_(LoyaltyMember.programme_id == programme_id,
                                     LoyaltyMember.subscriber_id == Subscriber.id))
        ids = list(conn.execute(select(Subscriber.id).where(selects, ~member).order_by(Subscriber.id)).scalars())
    enrolled = 0
    for batch in chunks(ids, members.BATCH):
        with engine.begin() as conn:
            enrolled += members.enrol(conn, programme_id, batch, "segment")
    return {"selected_not_members": len(ids), "enrolled": enrolled}


def enrol_due(engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    """Every programme that names a segment to enrol from: its newcomers enrolled. A segment deleted
    since is reported, not raised: the other programmes go on."""
    with engine.connect() as conn:
        rows = conn.execute(select(LoyaltyProgramme.id, LoyaltyProgramme.code, LoyaltyProgramme.settings)
                            .order_by(LoyaltyProgramme.id)).all()
    done: dict[str, Any] = {}
    for pid, code, settings in rows:
        segment_id = (settings or {}).get(ENROL_SEGMENT)
        if not segment_id:
            continue
        try:
            done[code] = enrol_segment(engine, pid, int(segment_id))
        except SegmentError as exc:
            done[code] = {"error": exc.message}
    return done
