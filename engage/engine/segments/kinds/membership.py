"""Membership in another saved segment or in an uploaded static list.

    {"kind": "in_segment", "segment_id": 5}
        whoever saved segment 5 selects now: its definition is compiled inline (one query), so
        a change to segment 5 changes every segment built on it. A segment that includes itself,
        directly or through others, is an error naming the cycle ("segment cycle: 5 -> 7 -> 5");
        so is an unknown segment.
    {"kind": "in_list", "list_id": 3}
        subscribers whose number is on static list 3 (a list that does not exist has no members)

Segments are loaded through CompileContext.load_segment; without it in_segment is an error, as
the caller must say where saved segments come from. Errors inside the included definition are
reported at "<path>.segment[5]..." so the editor can tell which segment holds them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, select

from engage.engine.segments.criteria import CompileContext, Param, SegmentError, compile_node, criterion
from engage.engine.segments.kinds._values import get_int
from engage.engine.store.id_ranges import MAX_ID
from engage.engine.store.schema import StaticListMember, Subscriber


@criterion("in_segment", label="In a saved segment", params=(
    Param("segment_id", "integer", "a saved segment", label="saved segment", ask="choose a saved segment"),
))
def in_segment(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """The subscriber matches another saved segment."""
    segment_id = get_int(node, "segment_id", path, minimum=1, maximum=MAX_ID)
    if ctx.load_segment is None:
        raise SegmentError(path, "in_segment cannot be used here: saved segments are not available")
    if segment_id in ctx.stack:
        cycle = ctx.stack[ctx.stack.index(segment_id):] + (segment_id,)
        raise SegmentError(path, f"segment cycle: {' -> '.join(str(s) for s in cycle)}",
                           hint=f"segment {segment_id} would include itself: choose another saved segment")
    definition = ctx.load_segment(segment_id)
    if definition is None:
        raise SegmentError(path, f"segment {segment_id} does not exist",
                           hint=f"there is no segment {segment_id} (any more): choose another saved segment")
    inner = replace(ctx, stack=ctx.stack + (segment_id,))
    return compile_node(definition, f"{path}.segment[{segment_id}]", inner)


@criterion("in_list", label="On an uploaded list", params=(
    Param("list_id", "integer", "a static list", label="list number", ask="enter the list's number"),
))
def in_list(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """The subscriber's number is on a static (uploaded) list."""
    list_id = get_int(node, "list_id", path, minimum=1, maximum=MAX_ID)
    return Subscriber.msisdn.in_(select(StaticListMember.msisdn).where(
        StaticListMember.list_id == list_id).correlate(None))
