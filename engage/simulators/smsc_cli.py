"""Running the SMSC simulator: on a thread of its own (tests, the demo), or as `engage smsc-sim`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from engage.engine.asyncloop import serve_in_thread
from engage.simulators.smsc import ID_BASES, THROTTLE_ANSWERS, SmscSimulator

__all__ = ["main", "run_in_thread"]

log = logging.getLogger("engage.simulators.smsc")

RATES = ("fail_rate", "throttle_rate", "msgqful_rate", "reject_rate", "undeliverable_rate")


def run_in_thread(sim: SmscSimulator) -> SmscSimulator:
    """Run ``sim`` on its own event loop in a daemon thread; returns once it is listening."""
    return serve_in_thread(sim, "smsc-simulator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engage smsc-sim", description="Run the SMPP 3.4 SMSC simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--system-id", action="append", default=[], help="repeat to add accounts")
    parser.add_argument("--password", action="append", default=[], help="one per --system-id, or one for all")
    parser.add_argument("--receipt-delay", type=float, default=0.05)
    parser.add_argument("--response-delay", type=float, default=0.0)
    for name in RATES:
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=0.0)
    parser.add_argument("--tps", type=int, default=0,
                        help="submits accepted per second and system-id, across its binds (default 0: no limit)")
    parser.add_argument("--throttle-answer", choices=tuple(THROTTLE_ANSWERS), default="throttled",
                        help="the answer to a submit beyond --tps: ESME_RTHROTTLED (0x58) or ESME_RMSGQFUL (0x14)")
    parser.add_argument("--reject-status", type=lambda v: int(v, 0), default=0x0B,
                        help="command_status for --reject-rate refusals (default 0x0B, invalid destination)")
    parser.add_argument("--id-format", choices=("hex", "decimal", "uuid"), default="hex")
    parser.add_argument("--receipt-id-base", choices=ID_BASES, default="same")
    parser.add_argument("--no-receipt-tlvs", dest="receipt_tlvs", action="store_false",
                        help="receipts as text only, without receipted_message_id/message_state")
    parser.add_argument("--seed", type=int, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    ids, passwords = args.system_id or ["engage"], args.password or ["secret"]
    passwords = passwords * len(ids) if len(passwords) == 1 else passwords
    if len(passwords) != len(ids):
        parser.error("give one --password per --system-id, or a single --password for all")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s smsc-sim %(message)s")
    tunables = ("receipt_delay", "response_delay", *RATES, "reject_status", "id_format", "receipt_id_base",
                "receipt_tlvs", "tps", "throttle_answer", "seed")
    try:
        sim = SmscSimulator(host=args.host, port=args.port, accounts=dict(zip(ids, passwords, strict=True)),
                            **{k: getattr(args, k) for k in tunables})
    except ValueError as exc:
        parser.error(str(exc))

    async def serve() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await sim.start()
        log.info("listening on %s:%d for %s", sim.host, sim.port, ", ".join(sim.accounts))
        await stopping.wait()
        await sim.stop()

    try:
        asyncio.run(serve())
    except OSError as exc:  # only listening raises out of serve(): the port is the operator's to fix
        if exc.errno is None:
            raise
        parser.exit(1, f"error: cannot listen on {args.host}:{args.port}: {os.strerror(exc.errno).lower()}\n")
    return 0
