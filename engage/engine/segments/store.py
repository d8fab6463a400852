"""Saved segments: validated when saved, so a bad criterion never reaches a launch.

Branches: a branch user sees their branch's segments and the shared ones (branch None), and
changes only their branch's; a user of no branch changes any. Changes are refused while they
would change what someone else already agreed to or relies on:

- editing a segment whose campaign waits for approval, is scheduled, runs or is paused: the
  approver approved that audience (a recurring campaign re-reads it at every run), so a change
  would slip past maker-checker. Duplicate it and edit the copy; drafts do not block.
- deleting a segment any campaign uses (a finished campaign's history refers to it too) or that
  another segment includes (in_segment).

A segment includes (in_segment) only segments its own branch sees: its branch's and the shared
ones. An inclusion across branches saved before that rule no longer compiles for its branch, and
blocks deleting the included segment with a refusal that names neither the including segment nor
its id to the included one's branch (an administrator is told which, and can change it).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy import update as sql_update

from engage.engine import statuses as st
from engage.engine.audit import audit
from engage.engine.segments import masked_numbers
from engage.engine.segments.audience import context
from engage.engine.segments.criteria import SegmentError, compile_node
from engage.engine.store.schema import Campaign, Segment

COPY_SUFFIX = " (copy)"
NAME_LENGTH = 200
# campaigns whose audience was agreed to: their segment is not edited under them
AGREED = (st.CAMPAIGN_AWAITING_APPROVAL, st.CAMPAIGN_SCHEDULED, st.CAMPAIGN_RUNNING, st.CAMPAIGN_PAUSED)
COLUMNS = (Segment.id, Segment.name, Segment.branch, Segment.definition, Segment.created_at, Segment.updated_at)


class SegmentInUse(ValueError):
    """The segment cannot be changed or deleted now; the message says which campaign or segment holds it."""


def create(conn: Connection, name: str, definition: dict[str, Any], *, actor: str,
           branch: str | None = None, masked: bool = False) -> int:
    """``branch`` set: a branch user's segment, seen and used only within that branch. ``masked``: the
    actor is shown numbers masked, and may not save what it could not count (segments.masked_numbers)."""
    _check_name(conn, name)
    compile_node(definition, ctx=context(conn, branch=branch, masked=masked))
    segment_id = conn.execute(insert(Segment.__table__).values(
        name=name, definition=definition, branch=branch)).inserted_primary_key[0]
    audit(conn, actor, "segment.create", "segment", segment_id, name=name, branch=branch)
    return segment_id


def visible(conn: Connection, branch: str | None, *, masked: bool = False) -> list[dict[str, Any]]:
    """The segments a user of ``branch`` may see: their branch's and the shared ones (all for None);
    ``masked``: with the numbers in their definitions masked for a user shown them masked."""
    query = select(Segment.id, Segment.name, Segment.branch, Segment.definition).order_by(Segment.id)
    if branch is not None:
        query = query.where((Segment.branch == branch) | Segment.branch.is_(None))
    return [_shown(dict(r._mapping), masked) for r in conn.execute(query)]


def get(conn: Connection, segment_id: int, branch: str | None, *, masked: bool = False) -> dict[str, Any] | None:
    """The segment as a user of ``branch`` sees it, with the campaigns that use it and whether this
    user may change it; None when it does not exist or belongs to another branch (the same answer,
    so a branch user cannot probe another branch's ids). ``masked``: as visible()."""
    row = conn.execute(select(*COLUMNS).where(Segment.id == segment_id)).first()
    if row is None or not _sees(row.branch, branch):
        return None
    out = _shown(dict(row._mapping), masked)
    out["used_by"] = used_by(conn, segment_id)
    out["editable"] = branch is None or row.branch == branch
    return out


def used_by(conn: Connection, segment_id: int) -> list[dict[str, Any]]:
    """The campaigns built on the segment, newest first."""
    rows = conn.execute(select(Campaign.id, Campaign.name, Campaign.status).where(
        Campaign.segment_id == segment_id).order_by(Campaign.id.desc())).all()
    return [dict(r._mapping) for r in rows]


def update(conn: Connection, segment_id: int, *, actor: str, branch: str | None, name: str | None = None,
           definition: Any = None, masked: bool = False) -> dict[str, Any]:
    """Change the name and/or the definition (checked as when created, a cycle through itself
    included); the audit log keeps the definition before and after. Answers as get() with ``masked``."""
    row = _writable(conn, segment_id, branch)
    agreed = [c for c in used_by(conn, segment_id) if c["status"] in AGREED]
    if agreed:
        c = agreed[0]
        raise SegmentInUse(f"segment {segment_id} is the audience of campaign {c['id']} {c['name']!r} "
                           f"({c['status']}), agreed with this definition: duplicate the segment and edit the copy")
    values: dict[str, Any] = {}
    if name is not None and name != row.name:
        _check_name(conn, name)
        values["name"] = name
    if definition is not None and definition != row.definition:
        compile_node(definition, ctx=replace(context(conn, branch=row.branch, masked=masked), stack=(segment_id,)))
        values["definition"] = definition
    if values:
        conn.execute(sql_update(Segment.__table__).where(Segment.id == segment_id).values(
            **values, updated_at=func.now()))
        changes = {k: {"before": getattr(row, k), "after": v} for k, v in values.items()}
        audit(conn, actor, "segment.update", "segment", segment_id, name=values.get("name", row.name),
              branch=row.branch, changes=changes)
    out = get(conn, segment_id, branch, masked=masked)
    assert out is not None
    return out


def duplicate(conn: Connection, segment_id: int, *, actor: str, branch: str | None) -> int:
    """A copy named "<name> (copy)" ("(copy 2)", ... when taken), in the caller's branch (for a
    user of no branch: the original's), so a shared segment can be adapted by a branch."""
    row = conn.execute(select(*COLUMNS).where(Segment.id == segment_id)).first()
    if row is None or not _sees(row.branch, branch):
        raise LookupError(f"segment {segment_id} does not exist")
    taken = set(conn.execute(select(Segment.name).where(Segment.name.startswith(
        row.name[:NAME_LENGTH - 20], autoescape=True))).scalars())
    stem, n = row.name[:NAME_LENGTH - 20], 1
    name = stem + COPY_SUFFIX
    while name in taken:
        n += 1
        name = f"{stem} (copy {n})"
    copy_branch = branch if branch is not None else row.branch
    new_id = conn.execute(insert(Segment.__table__).values(
        name=name, definition=row.definition, branch=copy_branch)).inserted_primary_key[0]
    audit(conn, actor, "segment.create", "segment", new_id, name=name, branch=copy_branch, copied_from=segment_id)
    return new_id


def remove(conn: Connection, segment_id: int, *, actor: str, branch: str | None) -> None:
    """Delete a segment nothing refers to (see the module's note)."""
    row = _writable(conn, segment_id, branch)
    campaigns = used_by(conn, segment_id)
    running = [c for c in campaigns if c["status"] not in st.CAMPAIGN_ENDED]
    if running:
        c = running[0]
        raise SegmentInUse(f"segment {segment_id} is used by campaign {c['id']} {c['name']!r} ({c['status']}): "
                           f"cancel or finish that campaign first")
    if campaigns:
        ids = ", ".join(str(c["id"]) for c in campaigns[:5])
        raise SegmentInUse(f"segment {segment_id} is kept: the history of finished campaign(s) {ids} refers to it")
    including = _included_by(conn, segment_id)
    seen = [other for other, other_branch in including if _sees(other_branch, branch)]
    if seen:
        raise SegmentInUse(f"segment {segment_id} is included by segment {seen[0]} (in_segment): "
                           f"change that one first")
    if including:  # saved before inclusions were held to a branch: its id and name are not this user's to know
        raise SegmentInUse(f"segment {segment_id} is included by a segment of another branch (in_segment): "
                           f"an administrator can remove that inclusion")
    conn.execute(delete(Segment.__table__).where(Segment.id == segment_id))
    audit(conn, actor, "segment.delete", "segment", segment_id, name=row.name, branch=row.branch,
          definition=row.definition)


def _shown(segment: dict[str, Any], masked: bool) -> dict[str, Any]:
    return {**segment, "definition": masked_numbers.shown(segment["definition"])} if masked else segment


def _sees(segment_branch: str | None, branch: str | None) -> bool:
    return branch is None or segment_branch in (None, branch)


def _writable(conn: Connection, segment_id: int, branch: str | None) -> Any:
    row = conn.execute(select(*COLUMNS).where(Segment.id == segment_id)).first()
    if row is None or not _sees(row.branch, branch):
        raise LookupError(f"segment {segment_id} does not exist")
    if branch is not None and row.branch != branch:
        raise PermissionError(f"segment {segment_id} is shared by every branch: a user of branch {branch!r} "
                              f"may duplicate it, not change it")
    return row


def _check_name(conn: Connection, name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise SegmentError("name", "a segment needs a name")
    if len(name) > NAME_LENGTH:
        raise SegmentError("name", f"at most {NAME_LENGTH} characters")
    if conn.execute(select(Segment.id).where(Segment.name == name)).first():
        raise SegmentError("name", f"a segment called {name!r} exists")


def _included_by(conn: Connection, segment_id: int) -> list[tuple[int, str | None]]:
    """(id, branch) of the segments whose definition names this one in an in_segment criterion
    (segments are few: read in Python)."""
    rows = conn.execute(select(Segment.id, Segment.branch, Segment.definition).where(Segment.id != segment_id))
    return [(other_id, other_branch) for other_id, other_branch, definition in rows
            if _mentions(definition, segment_id)]


def _mentions(definition: Any, segment_id: int) -> bool:
    """Walked without recursion: a definition saved before the depth limit may be nested 900 deep."""
    stack = [definition]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("kind") == "in_segment" and node.get("segment_id") == segment_id:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def as_json(segment: dict[str, Any]) -> dict[str, Any]:
    """Times as ISO text, for the API and the builder page."""
    return json.loads(json.dumps(segment, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))
