"""Commands that create campaigns, move them through their states, and show them.

    engage campaign create --name N --segment S --template T --sender Shop [--schedule JSON] ...
    engage campaign submit|approve|reject|pause|resume|cancel ID
    engage campaign launch ID      a draft sent now (no approval needed), or a scheduled run started now
    engage campaign test ID --to +998901234567 ...   the message to staff through the real route
    engage campaign show ID
"""

from __future__ import annotations

import argparse
from typing import Any

from engage.cli.common import emit, engine, json_arg


def _options(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("kind", "timezone", "local_time", "quiet_hours", "deadline_minutes", "max_rate", "control_share",
                 "seed", "max_parts"):
        if getattr(args, name) is not None:
            out[name] = getattr(args, name)
    if args.schedule is not None:
        out["schedule"] = json_arg(args.schedule)
    if args.arms is not None:
        out["arms"] = json_arg(args.arms)
    if args.cap is not None:
        count, _, days = args.cap.partition("/")
        if not (count.isdigit() and days.isdigit()):
            raise SystemExit(f"error: --cap {args.cap!r}: COUNT/DAYS, like 1/7")
        out["cap"] = {"count": int(count), "days": int(days)}
    return out


def cmd_campaign_create(args: argparse.Namespace) -> int:
    from engage.engine import campaigns

    try:
        with engine().begin() as conn:
            campaign_id = campaigns.create(conn, name=args.name, segment_id=args.segment,
                                           template_id=args.template, sender_id=args.sender, actor=args.actor,
                                           branch=args.branch, **_options(args))
    except campaigns.CampaignError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit({"campaign_id": campaign_id})
    return 0


def cmd_campaign_launch(args: argparse.Namespace) -> int:
    from engage.engine import campaigns

    try:
        emit(campaigns.launch(engine(), args.id, actor=args.actor))
    except campaigns.CampaignError as exc:
        raise SystemExit(f"error: {exc}") from None
    return 0


def cmd_campaign_move(args: argparse.Namespace) -> int:
    from engage.engine.campaigns import CampaignError, lifecycle

    try:
        result = lifecycle.perform(engine(), args.id, args.action, actor=args.actor, role=getattr(args, "role", None),
                                   reason=getattr(args, "reason", "") or "")
    except CampaignError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit({"campaign_id": args.id, "action": args.action, **result})
    return 0


def cmd_campaign_test(args: argparse.Namespace) -> int:
    from engage.engine.campaigns import CampaignError
    from engage.engine.campaigns.trial_sends import send_test

    try:
        emit(send_test(engine(), args.id, args.to, actor=args.actor, arm=args.arm))
    except CampaignError as exc:
        raise SystemExit(f"error: {exc}") from None
    return 0


def cmd_campaign_show(args: argparse.Namespace) -> int:
    from engage.engine import campaigns

    with engine().connect() as conn:
        summary = campaigns.summary(conn, args.id)
    if summary is None:
        raise SystemExit(f"error: campaign {args.id} does not exist")
    emit(summary)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    camp = sub.add_parser("campaign", help="campaigns").add_subparsers(dest="action", required=True)
    s = camp.add_parser("create", help="create a draft campaign")
    s.add_argument("--name", required=True)
    s.add_argument("--segment", type=int, required=True)
    s.add_argument("--template", type=int, required=True)
    s.add_argument("--sender", required=True, help="sender ID: up to 11 letters/digits, a short code or a number")
    s.add_argument("--branch", help="a branch's campaign: reaches only that branch's subscribers")
    s.add_argument("--kind", choices=["marketing", "transactional"], help="transactional bypasses the global cap")
    s.add_argument("--schedule", help='JSON: {"kind": "at", "at": "2026-12-24T10:00"}, {"kind": "daily", '
                                      '"time": "10:00"}, {"kind": "cron", "cron": "0 10 * * 1-5"}, ...')
    s.add_argument("--timezone", help="the schedule's zone (default ENGAGE_DEFAULT_TIMEZONE)")
    s.add_argument("--local-time", help="HH:MM: send at that time in each recipient's own zone")
    s.add_argument("--quiet-hours", help="HH:MM-HH:MM in the recipient's zone: held, never dropped")
    s.add_argument("--deadline-minutes", type=int, help="a run's unsent messages expire after this")
    s.add_argument("--max-rate", type=int, help="messages per second at most")
    s.add_argument("--cap", help="COUNT/DAYS: at most COUNT of this campaign's messages per subscriber")
    s.add_argument("--control-share", type=float, help="0 to 0.5: held out at random, recorded")
    s.add_argument("--seed", type=int, help="makes the control group and arms reproducible")
    s.add_argument("--arms", help='JSON: [{"arm": "A", "share": 50}, {"arm": "B", "share": 50}]')
    s.add_argument("--max-parts", type=int, help="messages longer than this many parts fail")
    s.set_defaults(fn=cmd_campaign_create)
    s = camp.add_parser("launch", help="freeze the audience and start sending now")
    s.add_argument("id", type=int)
    s.set_defaults(fn=cmd_campaign_launch)
    for action, text in (("submit", "send for approval, or schedule when none is needed"),
                         ("approve", "approve another person's campaign"), ("reject", "send back to draft"),
                         ("pause", "stop sending within seconds"), ("resume", "continue a paused campaign"),
                         ("cancel", "cancel; unsent messages end as cancelled")):
        s = camp.add_parser(action, help=text)
        s.add_argument("id", type=int)
        if action == "submit":
            s.add_argument("--role", help="the submitter's role (some roles always need approval)")
        if action == "reject":
            s.add_argument("--reason", required=True)
        s.set_defaults(fn=cmd_campaign_move)
    s = camp.add_parser("test", help="send the campaign's message to staff numbers through the real route")
    s.add_argument("id", type=int)
    s.add_argument("--to", nargs="+", required=True, help="staff numbers (up to 20)")
    s.add_argument("--arm", default="A")
    s.set_defaults(fn=cmd_campaign_test)
    s = camp.add_parser("show", help="a campaign, its runs and its counts by status, as JSON")
    s.add_argument("id", type=int)
    s.set_defaults(fn=cmd_campaign_show)
