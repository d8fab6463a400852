"""The campaigns an analyst can open a report on: those that have sent (launched at least once),
newest first, within the reader's branch, with when their figures were computed. Test sends and
keyword replies are not campaigns to judge and are left out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from engage.engine.campaigns.kinds import REPLY_KIND
from engage.engine.campaigns.trial_sends import TEST_KIND
from engage.engine.store.database import aware
from engage.engine.store.schema import Campaign, CampaignResultState
from engage.engine.usage import USAGE_KINDS

LISTED = 200


def launched(conn: Connection, branch: str | None, limit: int = LISTED) -> list[dict[str, Any]]:
    """Launched campaigns visible to `branch` (None: every branch), newest first."""
    query = (select(Campaign.id, Campaign.name, Campaign.status, Campaign.launched_at, Campaign.control_share,
                    CampaignResultState.computed_at, CampaignResultState.messages)
             .outerjoin(CampaignResultState, CampaignResultState.campaign_id == Campaign.id)
             .where(Campaign.launched_at.is_not(None), Campaign.kind.not_in((TEST_KIND, REPLY_KIND)))
             .order_by(Campaign.launched_at.desc(), Campaign.id.desc()).limit(limit))
    if branch is not None:
        query = query.where(Campaign.branch == branch)
    return [{"id": r.id, "name": r.name, "status": r.status, "launched_at": aware(r.launched_at),
             "control_share": r.control_share or 0.0,
             "computed_at": aware(r.computed_at) if r.computed_at else None, "recipients": r.messages}
            for r in conn.execute(query)]


def conversion_kinds(current: str) -> list[str]:
    """The usage kinds offered for a conversion: engage's own and the one judged now. An operator's
    own kind (bundle_activation) is typed; settings.checked finds it in the data with one index probe,
    where listing every kind the data holds would scan the whole usage table."""
    return sorted({*USAGE_KINDS, current})
