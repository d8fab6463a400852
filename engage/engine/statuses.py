"""Message and campaign states, and what a delivery receipt's `stat` means for a message."""

from __future__ import annotations

PENDING, QUEUED, SENDING, SUBMITTED = "pending", "queued", "sending", "submitted"
HELD = "held"  # waits for its not_before: the recipient's local send time, or the end of quiet hours
CONTROL = "control"  # held out in the control group: recorded, never sent
DELIVERED, UNDELIVERED, EXPIRED, REJECTED, FAILED, CANCELLED = (
    "delivered", "undelivered", "expired", "rejected", "failed", "cancelled")
# Submitted, and no receipt came within its provider's receipt_timeout (receipts.timeouts): final, so
# that its campaign completes, and charged, since the provider took it; a receipt arriving later
# still settles it (SETTLEABLE). The name says what is known: the SMSC never confirmed the outcome.
UNCONFIRMED = "unconfirmed"
OPTED_OUT = "opted_out"  # the recipient texted STOP before it was sent: set aside, never sent (keywords)
IN_FLIGHT = (HELD, PENDING, QUEUED, SENDING, SUBMITTED)
FINAL = (DELIVERED, UNDELIVERED, EXPIRED, REJECTED, FAILED, UNCONFIRMED, CANCELLED, OPTED_OUT)
SETTLEABLE = (*IN_FLIGHT, UNCONFIRMED)  # what a receipt may still settle
UNSENT = (HELD, PENDING, QUEUED)  # not yet with a sender: what pause takes back and cancel ends
ALL = IN_FLIGHT + FINAL + (CONTROL,)

# Receipt stat words (SMPP 3.4 appendix B) -> final message status; absent = not final yet.
RECEIPT_FINAL = {
    "DELIVRD": DELIVERED, "UNDELIV": UNDELIVERED, "EXPIRED": EXPIRED,
    "REJECTD": REJECTED, "DELETED": UNDELIVERED,
}

# When parts disagree, the message takes the worst of them.
_SEVERITY = {DELIVERED: 0, EXPIRED: 1, UNDELIVERED: 2, REJECTED: 3, FAILED: 4}


def combine_parts(statuses: list[str]) -> str | None:
    """A multipart message is final when every part is; None while any part is still on its way."""
    if any(s not in _SEVERITY for s in statuses):
        return None
    return max(statuses, key=_SEVERITY.__getitem__)


CAMPAIGN_DRAFT, CAMPAIGN_RUNNING, CAMPAIGN_COMPLETED = "draft", "running", "completed"
CAMPAIGN_AWAITING_APPROVAL, CAMPAIGN_SCHEDULED, CAMPAIGN_PAUSED = "awaiting_approval", "scheduled", "paused"
CAMPAIGN_CANCELLED, CAMPAIGN_FAILED = "cancelled", "failed"
CAMPAIGN_ENDED = (CAMPAIGN_COMPLETED, CAMPAIGN_CANCELLED, CAMPAIGN_FAILED)
CAMPAIGN_WORDS = {  # what pages say; the API and data-status keep the codes
    CAMPAIGN_DRAFT: "Draft", CAMPAIGN_AWAITING_APPROVAL: "Awaiting approval", CAMPAIGN_SCHEDULED: "Scheduled",
    CAMPAIGN_RUNNING: "Running", CAMPAIGN_PAUSED: "Paused", CAMPAIGN_COMPLETED: "Completed",
    CAMPAIGN_CANCELLED: "Cancelled", CAMPAIGN_FAILED: "Failed"}
# a campaign someone agreed to as it is: its template and segment are not changed under it
CAMPAIGN_AGREED = (CAMPAIGN_AWAITING_APPROVAL, CAMPAIGN_SCHEDULED, CAMPAIGN_RUNNING, CAMPAIGN_PAUSED)
RUN_RUNNING, RUN_COMPLETED, RUN_SKIPPED, RUN_CANCELLED, RUN_FAILED = (
    "running", "completed", "skipped", "cancelled", "failed")
