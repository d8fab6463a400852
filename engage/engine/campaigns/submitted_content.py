"""What a campaign's approver agrees to, recorded at submission: the template's variants, the
segment's definition with those of the segments it includes (in_segment), the sender and the
sending rules. Editing a template or segment of an agreed campaign is refused where it is made
(templates.store, segments.store), but an included segment can change, and so can anything written
past those checks; so approving and every run's launch compare the campaign as it is with what was
submitted. A run finding a difference does not send: the campaign goes back to awaiting approval
with what changed in the audit log, and what is there now becomes what the next approval is for."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select, update

from engage.engine import statuses as st
from engage.engine.audit import audit
from engage.engine.campaigns.rules import OPTIONS
from engage.engine.store.schema import Campaign, Segment, Template, TemplateVariant

PARTS = ("template", "segment", "sender_id", "rules")  # what a difference is named by


def content(conn: Connection, c: Any) -> dict[str, Any]:
    """The campaign row ``c``'s content as an approver sees it, in plain JSON values."""
    default_language = conn.execute(select(Template.default_language).where(Template.id == c.template_id)).scalar()
    variants = [{"arm": arm, "language": language, "body": body} for arm, language, body in conn.execute(
        select(TemplateVariant.arm, TemplateVariant.language, TemplateVariant.body)
        .where(TemplateVariant.template_id == c.template_id)
        .order_by(TemplateVariant.arm, TemplateVariant.language))]
    definition = conn.execute(select(Segment.definition).where(Segment.id == c.segment_id)).scalar()
    return _plain({"template": {"id": c.template_id, "default_language": default_language, "variants": variants},
                   "segment": {"id": c.segment_id, "definition": definition,
                               "includes": _included(conn, definition, {c.segment_id})},
                   "sender_id": c.sender_id, "rules": {k: getattr(c, k) for k in OPTIONS}})


def changed(conn: Connection, c: Any) -> list[str]:
    """The PARTS in which the campaign differs from its submission; none for a campaign submitted
    before submissions were recorded."""
    if c.submitted_content is None:
        return []
    now, then = content(conn, c), _plain(c.submitted_content)
    return [part for part in PARTS if now.get(part) != then.get(part)]


def record(conn: Connection, c: Any) -> dict[str, Any]:
    """Keep the campaign's content as its submission's; returns it."""
    submitted = content(conn, c)
    conn.execute(update(Campaign).where(Campaign.id == c.id).values(submitted_content=submitted))
    return submitted


def send_back(conn: Connection, c: Any, parts: list[str], *, actor: str) -> None:
    """The campaign, changed in ``parts`` since it was agreed to, back to awaiting approval: not
    scheduled, its approval void, its content as it is now the new submission; audited."""
    conn.execute(update(Campaign).where(Campaign.id == c.id).values(
        status=st.CAMPAIGN_AWAITING_APPROVAL, next_run_at=None, approved_by=None, approved_at=None,
        submitted_content=content(conn, c)))
    audit(conn, actor, "campaign.sent_back", "campaign", c.id, changed=parts,
          **{"from": c.status, "to": st.CAMPAIGN_AWAITING_APPROVAL})


def _included(conn: Connection, definition: Any, seen: set[int]) -> dict[str, Any]:
    """The definitions of the segments ``definition`` includes, directly or further down, by id."""
    out: dict[str, Any] = {}
    for segment_id in _in_segments(definition):
        if segment_id in seen:
            continue
        seen.add(segment_id)
        inner = conn.execute(select(Segment.definition).where(Segment.id == segment_id)).scalar()
        out[str(segment_id)] = inner
        out.update(_included(conn, inner, seen))
    return out


def _in_segments(node: Any) -> list[int]:
    if isinstance(node, dict):
        found = [node["segment_id"]] if node.get("kind") == "in_segment" and isinstance(
            node.get("segment_id"), int) else []
        return found + [i for v in node.values() for i in _in_segments(v)]
    if isinstance(node, list):
        return [i for v in node for i in _in_segments(v)]
    return []


def _plain(value: Any) -> Any:
    """As the JSON column gives it back, so that what was stored and what is now compare equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))
