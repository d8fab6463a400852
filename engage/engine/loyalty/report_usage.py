"""How subscribers use a programme, for its reports (reports.py): visits to the USSD menus that run
its actions, the keywords that run its steps (JOIN, BAL), and the campaigns its members were sent and
were awarded points for.

USSD: the sessions started in the range on each menu with a screen running one of this programme's
loyalty actions, read through the sessions' (menu_id, started_at) index; a screen reached is found in
the session's `visited` list (its JSON text holds the screen's id in quotes). Staff trying a menu (the
emulator, `engage ussd try`) are left out, as the menu's funnel leaves them out. Keywords: the MOs
received in the range that a keyword running a loyalty step of this programme answered, a duplicate
(the same MO sent again) counted once. Campaigns: members with a message of the campaign submitted in
the range, and members given a campaign-triggered award in the range, with its points."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Integer, Text, case, cast, false, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from engage.engine.loyalty import programmes
from engage.engine.loyalty.report_periods import Span, within
from engage.engine.store.schema import (
    Campaign,
    InboundMessage,
    Keyword,
    LoyaltyEntry,
    LoyaltyMember,
    Message,
    UssdGateway,
    UssdMenu,
    UssdSession,
)
from engage.engine.ussd.funnel import TEST_GATEWAYS

TITLES = {"ussd": "USSD visits", "keywords": "Keyword use", "campaigns": "Participation in campaigns"}
EMPTY = {"ussd": "No USSD menu runs this programme's actions.", "keywords": "No keyword runs this programme's steps.",
         "campaigns": "No member was sent a campaign's message or given a campaign's award in this range."}
USSD_ACTIONS = ("loyalty_balance", "loyalty_join", "loyalty_rewards", "loyalty_redeem")  # the ones a column each
OTHER_BRANCH = "a campaign of another branch"


def table(conn: Connection, programme_id: int, name: str, made: Span, *,
          branch: str | None = None) -> tuple[list[tuple[str, str, str]], list[dict[str, Any]]]:
    """(columns, rows) of the usage table `name` (one of TITLES)."""
    code = programmes.get(conn, programme_id).code
    if name == "ussd":
        return _ussd(conn, code, made)
    if name == "keywords":
        return _keywords(conn, code, made)
    return _campaigns(conn, programme_id, made, branch)


def _ours(params: Any, code: str) -> bool:
    value = params.get("programme") if isinstance(params, dict) else None
    return isinstance(value, str) and value.strip().lower() == code


def _ussd(conn: Connection, code: str, made: Span) -> tuple[list, list]:
    # menu id -> action -> its screens running it for this programme
    screens: dict[int, dict[str, list[str]]] = {}
    names: dict[int, tuple[str, str]] = {}
    for menu_id, name, dialled, compiled in conn.execute(select(UssdMenu.id, UssdMenu.name, UssdMenu.code,
                                                                UssdMenu.compiled)):
        for screen_id, screen in ((compiled or {}).get("screens") or {}).items():
            action = screen.get("action") if isinstance(screen, dict) else None
            if isinstance(action, str) and action.startswith("loyalty_") and _ours(screen.get("params"), code):
                screens.setdefault(menu_id, {}).setdefault(action, []).append(screen_id)
                names[menu_id] = (name, dialled)
    columns = [("menu", "Menu", ""), ("code", "Code", ""), ("sessions", "Sessions", "sessions"),
               ("subscribers", "Subscribers", "numbers"), ("loyalty", "Reached a loyalty screen", "sessions"),
               *[(a, a.removeprefix("loyalty_").capitalize(), "sessions") for a in USSD_ACTIONS]]
    if not screens:
        return columns, []
    s, g = UssdSession, UssdGateway
    visited = cast(s.visited, Text)

    def reached(wanted: set[str] | None) -> ColumnElement[int]:
        hits = [(s.menu_id == menu_id) & visited.like(f'%"{_like(screen)}"%', escape="\\")
                for menu_id, actions in screens.items() for action, ids in actions.items()
                if wanted is None or action in wanted for screen in ids]
        return func.sum(case((or_(*hits), 1), else_=0)) if hits else func.sum(literal(0, Integer))

    rows = conn.execute(
        select(s.menu_id, func.count(), func.count(s.msisdn.distinct()), reached(None),
               *[reached({a}) for a in USSD_ACTIONS])
        .select_from(s.__table__.outerjoin(g.__table__, g.id == s.gateway_id))
        .where(s.menu_id.in_(sorted(screens)), *within(conn, s.started_at, made),
               or_(g.kind.is_(None), g.kind.not_in(sorted(TEST_GATEWAYS))))
        .group_by(s.menu_id)).all()
    found = {row[0]: row[1:] for row in rows}
    out = []
    for menu_id in sorted(screens, key=lambda i: names[i]):
        counts = found.get(menu_id, (0,) * (3 + len(USSD_ACTIONS)))
        out.append({"menu": names[menu_id][0], "code": names[menu_id][1],
                    **dict(zip(["sessions", "subscribers", "loyalty", *USSD_ACTIONS], map(_int, counts), strict=True))})
    return columns, out


def _keywords(conn: Connection, code: str, made: Span) -> tuple[list, list]:
    rows = conn.execute(select(Keyword.id, Keyword.word, Keyword.short_code, Keyword.steps)).all()
    ours = {r.id: [s["kind"] for s in r.steps or () if isinstance(s, dict)
                   and str(s.get("kind", "")).startswith("loyalty_") and _ours(s, code)] for r in rows}
    ours = {i: kinds for i, kinds in ours.items() if kinds}
    columns = [("keyword", "Keyword", ""), ("short_code", "Short code", ""), ("steps", "Steps", ""),
               ("messages", "Messages", "messages"), ("senders", "Senders", "numbers")]
    if not ours:
        return columns, []
    words = {r.word for r in rows if r.id in ours}
    i = InboundMessage
    # an MO is a keyword row's: the row of its short code, else the row of every short code ("")
    same = sorted((r for r in rows if r.word in words), key=lambda r: (not r.short_code, r.id))
    which = case(*[((i.keyword == r.word) & (i.destination == r.short_code) if r.short_code else i.keyword == r.word,
                    r.id) for r in same], else_=None)
    inner = select(which.label("row_id"), i.source).where(
        i.keyword.in_(sorted(words)), i.duplicate_of.is_(None), *within(conn, i.received_at, made)).subquery()
    counts = {row_id: (n, senders) for row_id, n, senders in conn.execute(
        select(inner.c.row_id, func.count(), func.count(inner.c.source.distinct())).group_by(inner.c.row_id))}
    out = []
    for r in sorted((r for r in rows if r.id in ours), key=lambda r: (r.word, r.short_code or "")):
        n, senders = counts.get(r.id, (0, 0))
        out.append({"keyword": r.word, "short_code": r.short_code or "any", "steps": ", ".join(ours[r.id]),
                    "messages": int(n), "senders": int(senders)})
    return columns, out


def _campaigns(conn: Connection, programme_id: int, made: Span, branch: str | None) -> tuple[list, list]:
    m, e = LoyaltyMember, LoyaltyEntry
    sent = dict(conn.execute(
        select(Message.campaign_id, func.count(m.id.distinct()))
        .join(m, (m.subscriber_id == Message.subscriber_id) & (m.programme_id == programme_id))
        .where(Message.submitted_at.is_not(None), *within(conn, Message.submitted_at, made))
        .group_by(Message.campaign_id)).all())
    awarded = {int(c): (n, p) for c, n, p in conn.execute(
        select(e.cause_id, func.count(e.member_id.distinct()), func.sum(e.points))
        .join(m, m.id == e.member_id)
        .where(m.programme_id == programme_id, e.cause == "campaign", e.kind == "earn",
               *within(conn, e.posted_at, made))
        .group_by(e.cause_id)) if str(c).isdigit()}
    ids = sorted(set(sent) | set(awarded))
    named = {i: (name, of) for i, name, of in conn.execute(
        select(Campaign.id, Campaign.name, Campaign.branch).where(Campaign.id.in_(ids) if ids else false()))}
    out = []
    for campaign_id in ids:
        name, of = named.get(campaign_id, ("(removed)", None))
        shown = name if branch is None or of in (None, branch) else OTHER_BRANCH
        n, points = awarded.get(campaign_id, (0, 0))
        out.append({"campaign": campaign_id, "name": shown, "members_sent": int(sent.get(campaign_id, 0)),
                    "members_awarded": int(n), "points_awarded": int(points or 0)})
    return ([("campaign", "Campaign", ""), ("name", "Name", ""), ("members_sent", "Members sent a message", "members"),
             ("members_awarded", "Members awarded", "members"), ("points_awarded", "Points awarded", "points")], out)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _int(value: Any) -> int:
    return int(value or 0)
