"""Campaign-triggered awards (rules.py: `on` reply, ussd_opt_in, usage_after_campaign), each given
once per member and rule (and campaign): the entry's key says so, so a replayed stream or a second
reply gives nothing more.

Replies and USSD opt-ins come from the event stream: `loyalty_awards` is a consumer of the events
worker (analytics/consumers.py), folding `replied` and `ussd_opt_in` events a batch at a time, its
watermark moved in the same transaction. Usage after a campaign is found by scoring (scoring.py
calls `after_campaign` on each batch): a usage record of the rule's kind within N days after a
message of the campaign was delivered to the member. The control group was never sent a message,
so it earns none of these, and the award's uplift can be measured against it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, select

from engage.engine.analytics.consumers import consumer
from engage.engine.loyalty import rules
from engage.engine.loyalty.ledger import Credit, credit
from engage.engine.loyalty.programmes import Programme
from engage.engine.store.bulk import one_of
from engage.engine.store.database import aware
from engage.engine.store.schema import LoyaltyMember, LoyaltyProgramme, Message, Subscriber

SOURCE = "award"
USSD_OPT_IN_EVENT = "ussd_opt_in"


@consumer("loyalty_awards", kinds={"replied", USSD_OPT_IN_EVENT}, start="now")
def fold(conn: Connection, events: Sequence[Row[Any]]) -> None:
    programmes = conn.execute(select(LoyaltyProgramme.id, LoyaltyProgramme.points_valid_days)).all()
    replies = [e for e in events if e.kind == "replied" and e.message_id is not None]
    opt_ins = [e for e in events if e.kind == USSD_OPT_IN_EVENT and (e.data or {}).get("msisdn")]
    by_message = dict(conn.execute(select(Message.id, Message.subscriber_id).where(
        one_of(conn, Message.id, [e.message_id for e in replies]))).all()) if replies else {}
    by_number = dict(conn.execute(select(Subscriber.msisdn, Subscriber.id).where(
        one_of(conn, Subscriber.msisdn, [e.data["msisdn"] for e in opt_ins]))).all()) if opt_ins else {}
    for programme_id, valid_days in programmes:
        versions = rules.versions(conn, programme_id)
        if not any(v.definition.on in (rules.REPLY, rules.USSD_OPT_IN) for v in versions):
            continue
        wanted = {by_message.get(e.message_id) for e in replies} | {by_number.get(e.data["msisdn"]) for e in opt_ins}
        members = _members(conn, programme_id, [s for s in wanted if s is not None])
        credits = []
        for e in replies:
            member = members.get(by_message.get(e.message_id))
            credits += _award(versions, rules.REPLY, e, member, e.campaign_id, valid_days)
        for e in opt_ins:
            credits += _award(versions, rules.USSD_OPT_IN, e, members.get(by_number.get(e.data["msisdn"])), None,
                              valid_days)
        credit(conn, credits)


def _award(versions: list[rules.Version], on: str, event: Row[Any], member: int | None, campaign_id: int | None,
           valid_days: int | None) -> list[Credit]:
    if member is None:
        return []
    at = aware(event.at)
    out = []
    for v in rules.in_force(versions, at):
        rule = v.definition
        if not rule.applies(None, at, on) or (on == rules.REPLY and not rule.for_campaign(campaign_id)):
            continue
        key = f"{v.rule_id}:{campaign_id}:{member}" if on == rules.REPLY else f"{v.rule_id}:{member}"
        lifetime = rule.expires_days or valid_days
        out.append(Credit(member, rule.points, at, "campaign" if campaign_id else "rule", SOURCE, key,
                          expires_at=at + timedelta(days=lifetime) if lifetime else None,
                          cause_id=str(campaign_id) if campaign_id else f"{v.code}@v{v.version}"))
    return out


def _members(conn: Connection, programme_id: int, subscriber_ids: list[int]) -> dict[int, int]:
    if not subscriber_ids:
        return {}
    return dict(conn.execute(select(LoyaltyMember.subscriber_id, LoyaltyMember.id).where(
        LoyaltyMember.programme_id == programme_id, LoyaltyMember.status == "active",
        one_of(conn, LoyaltyMember.subscriber_id, sorted(set(subscriber_ids))))).all())


def after_campaign(conn: Connection, programme: Programme, versions: list[rules.Version],
                   scored: Sequence[tuple[int, int, str, datetime]]) -> list[Credit]:
    """The usage-after-campaign awards of a scored batch: scored is (member id, subscriber id, usage
    kind, time) of its records. One query for the batch: the delivered messages of those subscribers
    within the longest window before the batch's latest record."""
    rules_after = [v for v in versions if v.definition.on == rules.USAGE_AFTER_CAMPAIGN]
    if not rules_after or not scored:
        return []
    longest = max(v.definition.within_days or 0 for v in rules_after)
    earliest = min(at for *_, at in scored) - timedelta(days=longest)
    delivered: dict[int, list[tuple[int, datetime]]] = {}
    for subscriber_id, campaign_id, done_at in conn.execute(
            select(Message.subscriber_id, Message.campaign_id, Message.done_at).where(
                and_(one_of(conn, Message.subscriber_id, sorted({s for _, s, _, _ in scored})),
                     Message.status == "delivered", Message.done_at >= earliest))):
        delivered.setdefault(subscriber_id, []).append((campaign_id, aware(done_at)))
    out: dict[str, Credit] = {}
    for member, subscriber_id, kind, at in scored:
        for v in rules.in_force(rules_after, at):
            rule = v.definition
            if not rule.applies(kind, at, rules.USAGE_AFTER_CAMPAIGN):
                continue
            for campaign_id, done_at in delivered.get(subscriber_id, ()):
                if rule.for_campaign(campaign_id) and done_at <= at <= done_at + timedelta(days=rule.within_days or 0):
                    key = f"{v.rule_id}:{campaign_id}:{member}"
                    lifetime = rule.expires_days or programme.points_valid_days
                    out.setdefault(key, Credit(member, rule.points, at, "campaign", SOURCE, key,
                                               expires_at=at + timedelta(days=lifetime) if lifetime else None,
                                               cause_id=str(campaign_id)))
    return list(out.values())
