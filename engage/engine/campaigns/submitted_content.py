"""What a campaign's approver agrees to, recorded at submission: the template's variants, the
segment's definition with those of the segments it includes (in_segment), the sender and the
sending rules. Editing a template or segment of an agreed campaign is refused where it is made
(templates.store, segments.store), but an included segment can change, and so can anything written
past those checks; so approving and every run's launch compare the campaign as it is with what was
submitted. A run finding a difference does not send: the campaign goes back to awaiting approval
with what changed in the audit log, and what is there now becomes what the next approval is for.

The audience is part of what was agreed to: the submission records how many the segment reached
then ("audience"), and a run whose audience grew past ENGAGE_APPROVAL_TOLERANCE over that (an
import or a partner's upsert retagging subscribers into it) is sent back the same way; so is a run
of a campaign that needed no approval whose audience now passes ENGAGE_APPROVAL_ABOVE.

Definitions are walked without recursion: one saved before the segment limits may be nested 900 deep."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select, update

from engage import config
from engage.engine import statuses as st
from engage.engine.audit import audit
from engage.engine.campaigns.rules import OPTIONS
from engage.engine.segments import audience
from engage.engine.segments.errors import SegmentError
from engage.engine.store.schema import Campaign, Segment, Template, TemplateVariant
from engage.engine.users.scope import Scope

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


def submission(conn: Connection, c: Any, reachable: int | None) -> dict[str, Any]:
    """The content an approver is asked to agree to, with the ``reachable`` audience they see (None:
    it could not be counted, and no run is compared with it)."""
    return {**content(conn, c), "audience": reachable}


def reachable_now(conn: Connection, c: Any) -> tuple[int | None, str | None]:
    """(how many the campaign's segment reaches now in its branch, None) or (None, why it could not
    be counted): too slow, or a definition the segment limits refuse."""
    definition = conn.execute(select(Segment.definition).where(Segment.id == c.segment_id)).scalar_one()
    try:
        with conn.begin_nested():  # a count stopped at its budget leaves the transaction usable
            counted = audience.count(conn, definition, scope=Scope(branch=c.branch, show_numbers=True))
    except SegmentError as exc:
        return None, str(exc)
    return counted["reachable"], None


def grown(c: Any, reachable: int, settings: config.Settings) -> str | None:
    """Why a run reaching ``reachable`` may not send what was agreed to, or None. An approved campaign:
    its audience grew more than ENGAGE_APPROVAL_TOLERANCE over the one submitted (not known: not
    compared). One that needed no approval: its audience now passes ENGAGE_APPROVAL_ABOVE."""
    then = (c.submitted_content or {}).get("audience")
    if c.approved_by is not None:
        tolerance = parse_tolerance(settings.approval_tolerance)
        if then is not None and reachable > then * (1 + tolerance / 100):
            return f"its audience grew from {then} to {reachable}, more than {tolerance:g}% over what was approved"
        return None
    above = settings.approval_above
    if above and reachable > above:
        return f"its audience grew from {then if then is not None else 'an uncounted size'} to {reachable}, " \
               f"above ENGAGE_APPROVAL_ABOVE ({above}): a second person approves it first"
    return None


def parse_tolerance(text: str) -> float:
    """ "10%" or "10" -> 10.0: how many percent a run's audience may pass the approved one's."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"ENGAGE_APPROVAL_TOLERANCE: {text!r} is not a percent of 0 or more, like 10%")
    return value


def send_back(conn: Connection, c: Any, parts: list[str], *, actor: str, why: str | None = None,
              reachable: int | None = None) -> bool:
    """The campaign, changed in ``parts`` since it was agreed to, back to awaiting approval: not
    scheduled, its approval void, its content as it is now (with ``reachable``, else counted) the new
    submission; audited. ``c`` is the row as the run found it: only from that state (a campaign
    cancelled or paused since stays so); False when it had moved."""
    if reachable is None:
        reachable, _ = reachable_now(conn, c)
    moved = conn.execute(update(Campaign).where(Campaign.id == c.id, Campaign.status == c.status).values(
        status=st.CAMPAIGN_AWAITING_APPROVAL, next_run_at=None, approved_by=None, approved_at=None,
        submitted_content=submission(conn, c, reachable))).rowcount
    if not moved:
        return False
    audit(conn, actor, "campaign.sent_back", "campaign", c.id, changed=parts,
          **({"why": why} if why else {}), **{"from": c.status, "to": st.CAMPAIGN_AWAITING_APPROVAL})
    return True


def _included(conn: Connection, definition: Any, seen: set[int]) -> dict[str, Any]:
    """The definitions of the segments ``definition`` includes, directly or further down, by id."""
    out: dict[str, Any] = {}
    pending = _in_segments(definition)
    while pending:
        segment_id = pending.pop()
        if segment_id in seen:
            continue
        seen.add(segment_id)
        inner = conn.execute(select(Segment.definition).where(Segment.id == segment_id)).scalar()
        out[str(segment_id)] = inner
        pending.extend(_in_segments(inner))
    return out


def _in_segments(definition: Any) -> list[int]:
    found, stack = [], [definition]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("kind") == "in_segment" and isinstance(node.get("segment_id"), int):
                found.append(node["segment_id"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _plain(value: Any) -> Any:
    """As the JSON column gives it back, so that what was stored and what is now compare equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))
