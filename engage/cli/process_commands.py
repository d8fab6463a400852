"""Commands that run long-lived processes: the web server, workers, the simulator, the demo."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import socket
from collections.abc import Iterator

from engage import config
from engage.cli.common import engine
from engage.cli.garbage_collection import settle_for_throughput

# Why a port cannot be listened on, and what to do: the operator's to fix, said in one line.
LISTEN_ERRORS = {
    errno.EADDRINUSE: " (another process listens there: stop it or choose another --port)",
    errno.EACCES: " (ports below 1024 need privileges: choose another --port)",
    errno.EADDRNOTAVAIL: " (no interface of this machine has that address: check --host)",
}


@contextlib.contextmanager
def listening(host: str, port: int) -> Iterator[None]:
    """A port that cannot be listened on ends the command with one line saying why, not a traceback.
    Around a server's whole run: only its listening raises OSError out of it (a request's errors stay
    inside Tornado)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in LISTEN_ERRORS:
            raise
        raise SystemExit(f"error: cannot listen on {host}:{port}: {os.strerror(exc.errno).lower()}"
                         f"{LISTEN_ERRORS[exc.errno]}") from None


def check_port_free(host: str, port: int) -> None:
    """Before a command does minutes of work and only then listens (the demo)."""
    with listening(host, port), socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Tornado will
        probe.bind((host, port))


def cmd_serve(args: argparse.Namespace) -> int:
    from engage.web.server import serve

    settle_for_throughput()
    with listening(args.host, args.port):
        serve(engine(), args.host, args.port)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from engage.workers.runner import WORKERS, run_forever

    names = list(WORKERS) if args.name == "all" else [args.name]
    port = _metrics_port_default() if args.metrics_port is None else args.metrics_port
    settle_for_throughput()
    run_forever(names, engine(), config.load().broker_url, metrics_port=port, metrics_addr=args.metrics_addr)
    return 0


def _metrics_port_default() -> int:
    raw = os.environ.get("ENGAGE_METRICS_PORT", "").strip() or "0"
    if not raw.isdigit() or int(raw) > 65535:
        raise SystemExit(f"error: ENGAGE_METRICS_PORT must be a TCP port number (0 for none), got {raw!r}")
    return int(raw)


def cmd_smsc_sim(args: argparse.Namespace) -> int:
    from engage.simulators.smsc_cli import main as sim_main

    settle_for_throughput()
    return sim_main(args.rest)


def cmd_demo(args: argparse.Namespace) -> int:
    from engage.demo import run_demo

    if not args.headless:
        check_port_free("127.0.0.1", args.port)
    settle_for_throughput()
    with contextlib.nullcontext() if args.headless else listening("127.0.0.1", args.port):
        return run_demo(recipients=args.recipients, headless=args.headless, exit_when_done=args.exit_when_done,
                        port=args.port, fresh=not args.keep)


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("serve", help="run the web UI and API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8888)
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("worker", help="run a worker process")
    s.add_argument("name", choices=["dispatch", "send", "receipts", "scheduler", "events", "loyalty", "all"])
    s.add_argument("--metrics-port", type=int, default=None,
                   help="serve Prometheus /metrics on this port (default $ENGAGE_METRICS_PORT; 0: none)")
    s.add_argument("--metrics-addr", default=os.environ.get("ENGAGE_METRICS_ADDR", "0.0.0.0"),
                   help="address for /metrics (default $ENGAGE_METRICS_ADDR or all interfaces)")
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
