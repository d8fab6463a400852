"""Why a campaign came back to its author: an approver's rejection returns it to draft, and its
reason (kept in the audit log with the rejection) is what the author needs to see on the campaign's
page, until the campaign is submitted again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from engage.engine.store.schema import AuditEntry

_TURNS = ("campaign.rejected", "campaign.submit")  # the reason given, and a later submission that answers it


def last_rejection(conn: Connection, campaign_id: int) -> dict[str, Any] | None:
    """{by, at, reason} of the rejection that sent the campaign back, unless it was submitted since."""
    row = conn.execute(select(AuditEntry.action, AuditEntry.actor, AuditEntry.at, AuditEntry.details).where(
        AuditEntry.object_type == "campaign", AuditEntry.object_id == str(campaign_id),
        AuditEntry.action.in_(_TURNS)).order_by(AuditEntry.id.desc()).limit(1)).first()
    if row is None or row.action != "campaign.rejected":
        return None
    return {"by": row.actor, "at": row.at, "reason": (row.details or {}).get("reason", "")}
