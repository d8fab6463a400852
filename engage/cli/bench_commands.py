"""`engage bench ...`: measured runs of the real system; each prints one JSON line."""

from __future__ import annotations

import argparse
import sys

from engage.cli.common import emit
from engage.cli.garbage_collection import settle_for_throughput


def cmd_bench_send(args: argparse.Namespace) -> int:
    from engage.bench.send import BenchBusy, Options, run
    from engage.bench.sender_kill import KillNeedsProcesses

    settle_for_throughput()  # the simulators run in this process
    try:
        emit(run(Options(recipients=args.recipients, providers=args.providers, window=args.window,
                         binds=args.binds, use_configured=args.use_configured, receipt_delay=args.receipt_delay,
                         stall_timeout=args.stall_timeout, kill_sender_at=args.kill_sender_at,
                         progress=not args.quiet, smsc_tps=args.smsc_tps,
                         throttle_answer=args.throttle_answer, provider_tps=args.provider_tps)))
    except (BenchBusy, KillNeedsProcesses) as exc:
        print(f"engage bench send: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_bench_stop(args: argparse.Namespace) -> int:
    from engage.bench.send import BenchBusy
    from engage.bench.stop import StopOptions, run

    settle_for_throughput()  # the simulator runs in this process
    try:
        emit(run(StopOptions(recipients=args.recipients, rate=args.rate, stops=args.stops, grace=args.grace)))
    except BenchBusy as exc:
        print(f"engage bench stop: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_bench_mo(args: argparse.Namespace) -> int:
    from engage.bench.mo import MoOptions, run
    from engage.bench.send import BenchBusy

    settle_for_throughput()  # the simulator runs in this process
    try:
        emit(run(MoOptions(messages=args.messages, stop_share=args.stop_share, keyword_share=args.keyword_share,
                           binds=args.binds,
                           window=args.window, stall_timeout=args.stall_timeout)))
    except BenchBusy as exc:
        print(f"engage bench mo: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_bench_ussd(args: argparse.Namespace) -> int:
    from engage.bench.ussd import UssdOptions, run

    try:
        emit(run(UssdOptions(sessions=args.sessions, hops=args.hops, think=args.think)))
    except ValueError as exc:
        print(f"engage bench ussd: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_bench_segments(args: argparse.Namespace) -> int:
    from engage.bench.segments import run

    emit(run(args.subscribers, args.events_per_subscriber, args.repeats, launch=not args.no_launch))
    return 0


def cmd_bench_effectiveness(args: argparse.Namespace) -> int:
    from engage.bench.effectiveness import run

    emit(run(args.recipients, args.control, args.events_per_subscriber, args.repeats))
    return 0


def cmd_bench_import(args: argparse.Namespace) -> int:
    from engage.bench.imports import run

    emit(run(args.rows))
    return 0


def cmd_bench_events(args: argparse.Namespace) -> int:
    from engage.bench.events import run

    emit(run(args.events, batch=args.batch, limit=args.limit))
    return 0


def cmd_bench_hostile(args: argparse.Namespace) -> int:
    from engage.bench.hostile import run

    emit(run(args.only))
    return 0


def cmd_bench_export(args: argparse.Namespace) -> int:
    from engage.bench.export import run

    emit(run(args.rows, keep=args.keep, datasets=tuple(args.dataset or ("events", "messages")),
             progress=not args.quiet))
    return 0


def cmd_bench_loyalty(args: argparse.Namespace) -> int:
    from engage.bench.loyalty import run

    emit(run(args.members, args.events, keep=args.keep, progress=not args.quiet))
    return 0


def _provider_tps(value: str) -> int | None:
    if value.strip().lower() == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: a whole number of parts per second, or 'none'") from None


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0.0 < share < 1.0:
        raise argparse.ArgumentTypeError(f"{value!r}: a share of the recipients between 0 and 1, e.g. 0.5")
    return share


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks (JSON figures)").add_subparsers(dest="what", required=True)
    s = bench.add_parser("send", help="a campaign end to end: launch, submit, receipts")
    s.add_argument("--recipients", type=int, default=100_000)
    s.add_argument("--providers", type=int, default=1, help="built-in SMSC simulators, one provider each")
    s.add_argument("--window", type=int, default=64, help="outstanding submit_sm per bind")
    s.add_argument("--binds", type=int, default=4,
                   help="transceiver binds per provider (default 4: an SMSC's window of unanswered receipts is "
                        "per bind, and two binds' windows hold receipts to about 8,500/s)")
    s.add_argument("--use-configured", action="store_true", help="send through the configured providers instead")
    s.add_argument("--receipt-delay", type=float, default=0.5, help="seconds before the simulator's receipt")
    s.add_argument("--stall-timeout", type=float, default=60.0,
                   help="seconds without progress after which what is not final counts as lost")
    s.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    s.add_argument("--kill-sender-at", type=_share, default=None, metavar="SHARE",
                   help="kill -9 the send worker once this share of the recipients (0 to 1, e.g. 0.5) is accepted, "
                        "start a new one, and report the duplicates the simulators saw against binds x window; "
                        "needs RabbitMQ; the run lasts the send lease (ENGAGE_SEND_LEASE) longer")
    s.add_argument("--smsc-tps", type=int, default=0,
                   help="submits per second each simulator accepts; beyond, it answers --throttle-answer (default 0: "
                        "no limit)")
    s.add_argument("--throttle-answer", choices=("throttled", "msgqful"), default="throttled",
                   help="the simulator's answer beyond --smsc-tps: ESME_RTHROTTLED or ESME_RMSGQFUL")
    s.add_argument("--provider-tps", type=_provider_tps, default=1_000_000,
                   help="the bench providers' configured TPS, or 'none' (default 1000000)")
    s.set_defaults(fn=cmd_bench_send)

    s = bench.add_parser("mo", help="subscribers' messages through SMPP, stored and handled by the keywords")
    s.add_argument("--messages", type=int, default=100_000)
    s.add_argument("--stop-share", type=float, default=0.2, help="share of the messages that are STOP")
    s.add_argument("--keyword-share", type=float, default=0.2,
                   help="share of the messages that are the bench's own keyword (JOIN: a tag and a reply)")
    s.add_argument("--binds", type=int, default=4, help="binds of the bench provider")
    s.add_argument("--window", type=int, default=64, help="the simulator's unanswered deliver_sm per bind")
    s.add_argument("--stall-timeout", type=float, default=60.0,
                   help="seconds without progress after which what is not handled counts as lost")
    s.set_defaults(fn=cmd_bench_mo)

    s = bench.add_parser("stop", help="STOP texted during a paced campaign: nothing reaches the number after the "
                                      "grace, by the simulator's log")
    s.add_argument("--recipients", type=int, default=10_000)
    s.add_argument("--rate", type=int, default=300, help="the campaign's pace, messages a second")
    s.add_argument("--stops", type=int, default=100, help="recipients who text STOP while it sends")
    s.add_argument("--grace", type=float, default=2.0, help="seconds after a STOP within which a message may still go")
    s.set_defaults(fn=cmd_bench_stop)

    s = bench.add_parser("ussd", help="USSD sessions through the Africa's Talking endpoint of `engage serve`, "
                                      "latency per hop")
    s.add_argument("--sessions", type=int, default=200, help="subscribers in a session at once")
    s.add_argument("--hops", type=int, default=5, help="requests per session, the first one dialling")
    s.add_argument("--think", type=float, default=1.0,
                   help="seconds a subscriber takes between two hops, on average (0: none, a saturation test)")
    s.set_defaults(fn=cmd_bench_ussd)

    s = bench.add_parser("segments", help="synthetic audience data, then segment count times and a launch")
    s.add_argument("--subscribers", type=int, default=1_000_000)
    s.add_argument("--events-per-subscriber", type=int, default=10)
    s.add_argument("--repeats", type=int, default=15, help="timed counts per segment")
    s.add_argument("--no-launch", action="store_true", help="skip timing the launch of the whole audience")
    s.set_defaults(fn=cmd_bench_segments)

    s = bench.add_parser("effectiveness", help="a campaign with a control group and a planted effect: the time to "
                                               "compute its outcome figures and to read its report")
    s.add_argument("--recipients", type=int, default=1_000_000)
    s.add_argument("--control", type=float, default=0.1, help="share of the recipients held out (0 to 1)")
    s.add_argument("--events-per-subscriber", type=int, default=3, help="usage events of the synthetic base")
    s.add_argument("--repeats", type=int, default=10, help="timed reads of the report")
    s.set_defaults(fn=cmd_bench_effectiveness)

    s = bench.add_parser("import", help="a generated subscriber CSV imported into the configured database")
    s.add_argument("--rows", type=int, default=1_000_000)
    s.set_defaults(fn=cmd_bench_import)

    s = bench.add_parser("events", help="the events consumer folding a stream into the delivery figures")
    s.add_argument("--events", type=int, default=100_000)
    s.add_argument("--batch", type=int, default=100, help="messages per batch event (queued, submitted, delivered)")
    s.add_argument("--limit", type=int, default=1000, help="events per fold, as the events worker takes them")
    s.set_defaults(fn=cmd_bench_events)

    s = bench.add_parser("hostile", help="an attacker's requests at `engage serve`: time, sign-in held, growth")
    s.add_argument("--only", action="append", help="only the requests whose name holds this text (repeatable)")
    s.set_defaults(fn=cmd_bench_hostile)

    s = bench.add_parser("export", help="messages and their events made in the database, exported to Parquet: "
                                        "rows a second and peak memory per dataset")
    s.add_argument("--rows", type=int, default=1_000_000, help="messages, and events once split per message")
    s.add_argument("--dataset", action="append", help="only this dataset (repeatable; default events, messages)")
    s.add_argument("--keep", action="store_true", help="leave the bench rows in the database for the next run")
    s.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    s.set_defaults(fn=cmd_bench_export)

    s = bench.add_parser("loyalty", help="the loyalty ledger on a generated base: balance reads, redemptions, "
                                         "200 at once against one balance, a credit file posted twice, expiry")
    s.add_argument("--members", type=int, default=1_000_000)
    s.add_argument("--events", type=int, default=10_000_000, help="earn entries, each with its lot, over the members")
    s.add_argument("--keep", action="store_true", help="leave the bench rows in the database for the next run")
    s.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    s.set_defaults(fn=cmd_bench_loyalty)
