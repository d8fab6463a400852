"""Saved segments: validated when saved, so a bad criterion never reaches a launch."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from engage.engine.audit import audit
from engage.engine.segments.criteria import compile_node
from engage.engine.store.schema import Segment


def create(conn: Connection, name: str, definition: dict[str, Any], *, actor: str) -> int:
    compile_node(definition)
    segment_id = conn.execute(insert(Segment.__table__).values(
        name=name, definition=definition)).inserted_primary_key[0]
    audit(conn, actor, "segment.create", "segment", segment_id, name=name)
    return segment_id
