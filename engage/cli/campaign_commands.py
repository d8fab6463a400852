"""Commands that create, launch and show campaigns."""

from __future__ import annotations

import argparse

from engage.cli.common import emit, engine


def cmd_campaign_create(args: argparse.Namespace) -> int:
    from engage.engine import campaigns

    try:
        with engine().begin() as conn:
            campaign_id = campaigns.create(conn, name=args.name, segment_id=args.segment,
                                           template_id=args.template, sender_id=args.sender, actor=args.actor)
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
    s.add_argument("--sender", required=True, help="sender ID shown to recipients")
    s.set_defaults(fn=cmd_campaign_create)
    s = camp.add_parser("launch", help="freeze the audience and start sending now")
    s.add_argument("id", type=int)
    s.set_defaults(fn=cmd_campaign_launch)
    s = camp.add_parser("show", help="a campaign and its counts by status, as JSON")
    s.add_argument("id", type=int)
    s.set_defaults(fn=cmd_campaign_show)
