"""Where campaigns stand, for pages and API answers that must not hold the web process: a list of
campaigns read with a few set-based queries for all of them (their messages grouped once by
campaign, arm and status, their cost once by campaign and currency) instead of three GROUP BYs per
campaign, and the grouping within a time budget. At millions of messages it may not finish in time:
then the campaigns come without their figures (counts, arms_counts and cost None) and with
"figures_error" saying why, so that a page still lists them and still offers pause and cancel.

Test sends (campaigns.trial_sends) and keyword replies (keywords.replies) are campaigns too, of
their own kinds; a list of campaigns shows them apart (apart()), since they are no one's campaign to
a marketer: a test of a draft to a few staff phones, confirmations that run for good."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, func, select

from engage.engine import statuses as st
from engage.engine.campaigns.held import held_within
from engage.engine.campaigns.kinds import REPLY_KIND
from engage.engine.campaigns.records import replied, shaped
from engage.engine.campaigns.trial_sends import TEST_KIND
from engage.engine.costs import costs_of
from engage.engine.segments.audience import budget, consistent
from engage.engine.segments.errors import CountTooSlow
from engage.engine.store.schema import Campaign, CampaignRun, Message

FIGURES_SECONDS = 5.0  # for the figures of a whole list (or of one campaign)
LISTED = 100  # campaigns in a list: the latest ones
LISTED_APART = 20  # test sends, keyword replies: the latest ones


class FiguresTooSlow(Exception):  # noqa: N818 - named as CountTooSlow, its counterpart for segments
    """Counting campaigns' messages stopped at its time budget."""

    def __init__(self, seconds: float):
        super().__init__(f"not computed: counting the campaign's messages took longer than {seconds:g} s")
        self.seconds = seconds


@contextmanager
def bounded(conn: Connection, seconds: float | None = None) -> Iterator[None]:
    """The statements within read one snapshot and are stopped after ``seconds`` (None:
    FIGURES_SECONDS): FiguresTooSlow then. On a connection not in a transaction: a budget that
    runs out ends the transaction it ran in."""
    seconds = FIGURES_SECONDS if seconds is None else seconds
    try:
        with consistent(conn), budget(conn, seconds):
            yield
    except CountTooSlow:
        conn.rollback()
        raise FiguresTooSlow(seconds) from None


def latest(conn: Connection, branch: str | None, limit: int = LISTED, *, kinds: Collection[str] | None = None,
           other_than: Collection[str] = ()) -> list[int]:
    """The ids of the latest ``limit`` campaigns of ``branch`` (None: every branch), newest first;
    only those of ``kinds`` (None: any kind) and none of ``other_than``."""
    query = select(Campaign.id).order_by(Campaign.id.desc()).limit(limit)
    if branch is not None:
        query = query.where(Campaign.branch == branch)
    if kinds is not None:
        query = query.where(Campaign.kind.in_(sorted(kinds)))
    if other_than:
        query = query.where(Campaign.kind.not_in(sorted(other_than)))
    return list(conn.execute(query).scalars())


HELD_SECONDS = 2.0  # the list's count of held messages: past it the list goes without


def apart(conn: Connection, branch: str | None, *, seconds: float | None = None) -> dict[str, list[dict[str, Any]]]:
    """The latest campaigns of ``branch`` (None: every branch) as a list page shows them: "campaigns"
    (the LISTED latest, neither test sends nor keyword replies), "test_sends" and "keyword_replies"
    (the LISTED_APART latest of each); summaries() of each, their figures grouped together within
    ``seconds``, and a test send's "created_at" (when it was sent). See bounded() for the connection."""
    ids = {"campaigns": latest(conn, branch, other_than=(TEST_KIND, REPLY_KIND)),
           "test_sends": latest(conn, branch, LISTED_APART, kinds=(TEST_KIND,)),
           "keyword_replies": latest(conn, branch, LISTED_APART, kinds=(REPLY_KIND,))}
    created = dict(conn.execute(select(Campaign.id, Campaign.created_at).where(
        Campaign.id.in_(ids["test_sends"]))).all())
    conn.rollback()  # the figures' budget needs a transaction of its own
    found = {s["id"]: s for s in summaries(conn, [i for listed in ids.values() for i in listed], seconds=seconds)}
    for campaign_id, at in created.items():
        if campaign_id in found:
            found[campaign_id]["created_at"] = at.replace(tzinfo=UTC) if at.tzinfo is None else at  # SQLite: naive UTC
    conn.rollback()
    waiting = held_within(conn, ids["campaigns"], HELD_SECONDS) or {}
    for campaign_id in ids["campaigns"]:
        if campaign_id in found:
            found[campaign_id]["held"] = waiting.get(campaign_id)
    return {section: [found[i] for i in listed if i in found] for section, listed in ids.items()}


def awaiting_approval(conn: Connection, branch: str | None) -> list[Any]:
    """Campaigns of ``branch`` (None: every branch) waiting for a second person, oldest submit
    first: whole rows, for the review an approver reads (campaigns.review)."""
    query = select(Campaign.__table__).where(
        Campaign.status == st.CAMPAIGN_AWAITING_APPROVAL).order_by(Campaign.submitted_at)
    if branch is not None:
        query = query.where(Campaign.branch == branch)
    return list(conn.execute(query).all())


def summaries(conn: Connection, campaign_ids: Iterable[int], *, seconds: float | None = None) -> list[dict[str, Any]]:
    """records.summary of each campaign that exists, in the order given; the figures within ``seconds``
    (None: FIGURES_SECONDS), else None with the reason in "figures_error". See bounded() for the
    connection."""
    ids = list(campaign_ids)
    figures, error = {}, None
    try:
        figures = _figures(conn, ids, seconds)
    except FiguresTooSlow as exc:
        error = str(exc)
    found = {c.id: c for c in conn.execute(select(Campaign.__table__).where(Campaign.id.in_(ids))).all()}
    runs: dict[int, list[Any]] = {}
    for run in conn.execute(select(CampaignRun.__table__).where(CampaignRun.campaign_id.in_(ids))
                            .order_by(CampaignRun.campaign_id, CampaignRun.scheduled_for)).all():
        runs.setdefault(run.campaign_id, []).append(run)
    out = []
    for campaign_id in (i for i in ids if i in found):
        if error is None:
            out.append(shaped(found[campaign_id], runs.get(campaign_id, []), *figures[campaign_id]))
        else:
            out.append({**shaped(found[campaign_id], runs.get(campaign_id, []), None, None, None, None),
                        "figures_error": error})
    return out


def _figures(conn: Connection, ids: list[int], seconds: float | None) -> dict[int, tuple[Any, Any, Any, int]]:
    """Per campaign: counts by status (every status present), by arm and status, cost per currency,
    and how many of its messages were replied to (keywords.handling's `replied` events)."""
    statuses = {i: dict.fromkeys(st.ALL, 0) for i in ids}
    arms: dict[int, dict[str, dict[str, int]]] = {i: {} for i in ids}
    with bounded(conn, seconds):
        for campaign_id, arm, status, n in conn.execute(
                select(Message.campaign_id, Message.arm, Message.status, func.count()).where(
                    Message.campaign_id.in_(ids)).group_by(Message.campaign_id, Message.arm, Message.status)).all():
            statuses[campaign_id][status] = statuses[campaign_id].get(status, 0) + n
            by_status = arms[campaign_id].setdefault(arm or "A", {})
            by_status[status] = by_status.get(status, 0) + n  # arm None and "A" are one arm
        costs = costs_of(conn, ids)
        replies = replied(conn, ids)
    return {i: (statuses[i], arms[i], costs.get(i, {}), replies.get(i, 0)) for i in ids}
