"""Message history: what engage already sent to a subscriber, and what they sent back.

    {"kind": "received_campaign", "campaign_id": 12, "status": "any"}
        status: any (was a recipient, unless cancelled; default) | delivered | not_delivered
        (finally undelivered, expired, rejected or failed: "resend to those who did not get it")
    {"kind": "replied", "days": 7}
        replied to a campaign in the last N days: an SMS from them that keywords/handling.py
        attributed to a campaign's message to them (a `replied` event: their MO came within the
        reply window, ENGAGE_REPLY_WINDOW, after that message)
    {"kind": "replied", "campaign_id": 12, "days": 7}
        ... to that campaign (days optional when campaign_id is given)
    {"kind": "not_messaged_in", "days": 7}
        no message submitted to them in the last N days (also: never messaged)
    {"kind": "messages_received", "days": 30, "status": "any", "op": "ge", "value": 5}
        how many messages were submitted (status any) or delivered to them in the last N days;
        zero-including comparisons match subscribers who got none

Messages are found through their campaign (the campaign_id index): "recent" messages are those
of campaigns launched by now and not completed before the window, submitted within it, so no
index on messages.submitted_at is needed. Replies likewise: `replied` events through their
campaign (ix_events_campaign_at), of campaigns launched by now and not completed before the
window less the reply window (a reply comes at most that long after its message, and a message
is submitted before its campaign completes); the event names the message, and so the subscriber,
whatever number they have now.

Test sends (campaigns of kind "test", to numbers staff chose) are not history: no criterion counts
them, so that a test to a guessed number cannot tell whose number it is."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select

from engage import config
from engage.engine import statuses as st
from engage.engine.segments.criteria import CompileContext, Param, SegmentError, criterion
from engage.engine.segments.kinds._values import by_threshold, get_choice, get_int, get_threshold, threshold_op, utc
from engage.engine.store.schema import Campaign, Event, Message, Subscriber

NOT_DELIVERED = (st.UNDELIVERED, st.EXPIRED, st.REJECTED, st.FAILED)
MAX_ID = 2**63 - 1
TEST_KIND = "test"  # campaigns.trial_sends.TEST_KIND; segments do not import campaigns
REPLIED = "replied"  # the event keywords/handling.py records for an MO attributed to a campaign


def _not_a_test(campaign_id: Any) -> ColumnElement[bool]:
    """The message's campaign is not a test send."""
    return campaign_id.not_in(select(Campaign.id).where(Campaign.kind == TEST_KIND).correlate(None))


def recent_messages(now: datetime, days: int) -> Select:
    """SELECT subscriber_id of messages submitted in now - days .. now, reached by campaign."""
    cutoff = now - timedelta(days=days)
    campaigns = select(Campaign.id).where(
        Campaign.launched_at.is_not(None), Campaign.launched_at <= now, Campaign.kind != TEST_KIND,
        or_(Campaign.completed_at.is_(None), Campaign.completed_at >= cutoff)).correlate(None)
    return select(Message.subscriber_id).where(
        Message.campaign_id.in_(campaigns), Message.submitted_at >= cutoff, Message.submitted_at <= now,
    ).correlate(None)


def _campaign_id(node: dict[str, Any], path: str, required: bool = True) -> int | None:
    if not required and node.get("campaign_id") is None:
        return None
    return get_int(node, "campaign_id", path, minimum=1, maximum=MAX_ID)


_CAMPAIGN = Param("campaign_id", "integer", "the campaign", label="campaign number",
                  ask="enter the campaign's number (its page's address ends with it)")


@criterion("received_campaign", label="Was sent a campaign", params=(
    _CAMPAIGN,
    Param("status", "string", "any (default), delivered or not_delivered", required=False, default="any",
          label="outcome", options=(("any", "whatever the outcome"), ("delivered", "and got it"),
                                    ("not_delivered", "but did not get it"))),
))
def received_campaign(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """The subscriber was a recipient of a campaign (any, delivered, or finally not delivered)."""
    campaign_id = _campaign_id(node, path)
    status = get_choice(node, "status", path, ("any", "delivered", "not_delivered"), "any")
    condition = {"any": Message.status.not_in((st.CANCELLED, st.OPTED_OUT)),
                 "delivered": Message.status == st.DELIVERED,
                 "not_delivered": Message.status.in_(NOT_DELIVERED)}[status]
    return Subscriber.id.in_(
        select(Message.subscriber_id).where(Message.campaign_id == campaign_id, condition,
                                            _not_a_test(Message.campaign_id)).correlate(None))


@criterion("replied", label="Replied to a campaign", params=(
    Param("days", "integer", "within the last N days; required unless campaign_id is given", required=False,
          label="in the last N days", ask="enter a number of days, or a campaign's number"),
    Param("campaign_id", "integer", "only replies to this campaign's message to them", required=False,
          label="campaign number (optional)", ask=_CAMPAIGN.ask),
))
def replied(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """The subscriber replied to a campaign (or to the given one) in the last N days: one query of
    the `replied` events, which name the message replied to and through it the subscriber."""
    campaign_id = _campaign_id(node, path, required=False)
    if campaign_id is None and node.get("days") is None:
        raise SegmentError(path, "'days' is required (or 'campaign_id')", param="days")
    now = utc(ctx.now)
    days = get_int(node, "days", path, minimum=1) if node.get("days") is not None else None
    replies = [Event.kind == REPLIED, Event.at <= now]
    if days is not None:
        replies.append(Event.at >= now - timedelta(days=days))
    if campaign_id is not None:
        replies += [Event.campaign_id == campaign_id, _not_a_test(Event.campaign_id)]
    else:
        replies.append(Event.campaign_id.in_(_replied_campaigns(now, days)))
    return Subscriber.id.in_(select(Message.subscriber_id).join(Event, Event.message_id == Message.id)
                             .where(*replies).correlate(None))


def _replied_campaigns(now: datetime, days: int) -> Select:
    """SELECT id of the campaigns a reply within now - days .. now can be to (see the module's docstring)."""
    since = now - timedelta(days=days) - timedelta(hours=config.load().reply_window)
    return select(Campaign.id).where(
        Campaign.launched_at.is_not(None), Campaign.launched_at <= now, Campaign.kind != TEST_KIND,
        or_(Campaign.completed_at.is_(None), Campaign.completed_at >= since)).correlate(None)


_DAYS = Param("days", "integer", "the last N days", label="in the last N days", ask="enter a number of days")


@criterion("not_messaged_in", label="Not messaged in the last N days", params=(_DAYS,))
def not_messaged_in(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """No message was submitted to the subscriber in the last N days (or ever)."""
    days = get_int(node, "days", path, minimum=1)
    return Subscriber.id.not_in(recent_messages(utc(ctx.now), days))


@criterion("messages_received", label="Messages received in the last N days", params=(
    _DAYS,
    Param("status", "string", "any (submitted, default) or delivered", required=False, default="any",
          label="counting", options=(("any", "messages sent"), ("delivered", "messages delivered"))),
    threshold_op(),
    Param("value", "integer", "how many messages; [low, high] for between", label="how many",
          ask="enter a number of messages"),
))
def messages_received(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """How many messages were submitted (or delivered) to the subscriber in the last N days."""
    days = get_int(node, "days", path, minimum=1)
    status = get_choice(node, "status", path, ("any", "delivered"), "any")
    threshold = get_threshold(node, path, integer=True, minimum=0)
    recent = recent_messages(utc(ctx.now), days)
    if status == "delivered":
        recent = recent.where(Message.status == st.DELIVERED)
    return by_threshold(recent.group_by(Message.subscriber_id), func.count(), threshold)
