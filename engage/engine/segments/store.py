"""Saved segments: validated when saved, so a bad criterion never reaches a launch."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from engage.engine.audit import audit
from engage.engine.segments.audience import context
from engage.engine.segments.criteria import SegmentError, compile_node
from engage.engine.store.schema import Segment


def create(conn: Connection, name: str, definition: dict[str, Any], *, actor: str,
           branch: str | None = None) -> int:
    """``branch`` set: a branch user's segment, seen and used only within that branch."""
    if not name or not name.strip():
        raise SegmentError("name", "a segment needs a name")
    if conn.execute(select(Segment.id).where(Segment.name == name)).first():
        raise SegmentError("name", f"a segment called {name!r} exists")
    compile_node(definition, ctx=context(conn))
    segment_id = conn.execute(insert(Segment.__table__).values(
        name=name, definition=definition, branch=branch)).inserted_primary_key[0]
    audit(conn, actor, "segment.create", "segment", segment_id, name=name, branch=branch)
    return segment_id


def visible(conn: Connection, branch: str | None) -> list[dict[str, Any]]:
    """The segments a user of ``branch`` may see: their branch's and the shared ones (all for None)."""
    query = select(Segment.id, Segment.name, Segment.branch, Segment.definition).order_by(Segment.id)
    if branch is not None:
        query = query.where((Segment.branch == branch) | Segment.branch.is_(None))
    return [dict(r._mapping) for r in conn.execute(query)]
