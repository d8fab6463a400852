"""Why a campaign came back to its author: an approver's rejection returns it to draft, and its
reason (kept in the audit log with the rejection) is what the author needs to see on the campaign's
page, until the campaign is submitted again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from engage.engine import statuses as st
from engage.engine.store.bulk import one_of
from engage.engine.store.schema import AuditEntry, Campaign

_TURNS = ("campaign.rejected", "campaign.submit")  # the reason given, and a later submission that answers it


def last_rejection(conn: Connection, campaign_id: int) -> dict[str, Any] | None:
    """{by, at, reason} of the rejection that sent the campaign back, unless it was submitted since."""
    row = conn.execute(select(AuditEntry.action, AuditEntry.actor, AuditEntry.at, AuditEntry.details).where(
        AuditEntry.object_type == "campaign", AuditEntry.object_id == str(campaign_id),
        AuditEntry.action.in_(_TURNS)).order_by(AuditEntry.id.desc()).limit(1)).first()
    return _said(row) if row is not None and row.action == "campaign.rejected" else None


def sent_back(conn: Connection, *, branch: str | None, limit: int = 10) -> list[dict[str, Any]]:
    """The drafts an approver sent back and no one has submitted since, newest rejection first:
    {id, name, by, at, reason}. Two queries, whatever the number of drafts."""
    drafts = select(Campaign.id, Campaign.name).where(Campaign.status == st.CAMPAIGN_DRAFT)
    if branch is not None:
        drafts = drafts.where(Campaign.branch == branch)
    names = {str(i): n for i, n in conn.execute(drafts).all()}
    if not names:
        return []
    latest: dict[str, Any] = {}
    for row in conn.execute(select(AuditEntry.object_id, AuditEntry.action, AuditEntry.actor, AuditEntry.at,
                                   AuditEntry.details).where(
            AuditEntry.object_type == "campaign", AuditEntry.action.in_(_TURNS),
            one_of(conn, AuditEntry.object_id, sorted(names))).order_by(AuditEntry.id)):
        latest[row.object_id] = row
    back = [{"id": int(cid), "name": names[cid], **_said(r)} for cid, r in latest.items()
            if r.action == "campaign.rejected"]
    return sorted(back, key=lambda b: b["at"], reverse=True)[:limit]


def _said(row: Any) -> dict[str, Any]:
    """{by, at, reason} of a rejection's audit entry."""
    return {"by": row.actor, "at": row.at, "reason": (row.details or {}).get("reason", "")}
