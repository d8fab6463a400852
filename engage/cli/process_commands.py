"""Commands that run long-lived processes: the web server, workers, the simulator, the demo."""

from __future__ import annotations

import argparse

from engage import config
from engage.cli.common import engine


def cmd_serve(args: argparse.Namespace) -> int:
    from engage.web.server import serve

    serve(engine(), args.host, args.port)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from engage.workers.runner import WORKERS, run_forever

    names = list(WORKERS) if args.name == "all" else [args.name]
    run_forever(names, engine(), config.load().broker_url)
    return 0


def cmd_smsc_sim(args: argparse.Namespace) -> int:
    from engage.engine.smpp.simulator import main as sim_main

    return sim_main(args.rest)


def cmd_demo(args: argparse.Namespace) -> int:
    from engage.demo import run_demo

    return run_demo(recipients=args.recipients, headless=args.headless, exit_when_done=args.exit_when_done,
                    port=args.port, fresh=not args.keep)


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("serve", help="run the web UI and API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8888)
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("worker", help="run a worker process")
    s.add_argument("name", choices=["dispatch", "send", "receipts", "all"])
    s.set_defaults(fn=cmd_worker)

    s = sub.add_parser("smsc-sim", help="run the SMSC simulator (see `engage smsc-sim --help`)", add_help=False)
    s.add_argument("rest", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_smsc_sim)

    s = sub.add_parser("demo", help="run the whole system in one process with sample data")
    s.add_argument("--headless", action="store_true", help="no web UI")
    s.add_argument("--recipients", type=int, default=200)
    s.add_argument("--exit-when-done", action="store_true", help="print the counts as JSON and exit when done")
    s.add_argument("--port", type=int, default=8888)
    s.add_argument("--keep", action="store_true", help="keep the previous demo database instead of starting fresh")
    s.set_defaults(fn=cmd_demo)
