"""Commands for dead letters: batches a worker could not handle, parked with the reason why."""

from __future__ import annotations

import argparse
import sys

from engage import config
from engage.cli.common import emit, engine


def resolve_queue(name: str, known: list[str]) -> str:
    """Accept the queue's full name, its dead-letter queue's name, or the name without the prefix
    ("send.3" for "engage.send.3")."""
    from engage.engine.broker import DLQ_SUFFIX
    from engage.engine.broker.queues import prefix

    name = name.removesuffix(DLQ_SUFFIX)
    if name not in known and f"{prefix()}.{name}" in known:
        return f"{prefix()}.{name}"
    return name


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from engage.engine import dead_letters
    from engage.engine.broker import connect

    with engine().connect() as conn:
        known = dead_letters.known_queues(conn)
    with connect(config.load().broker_url) as broker:
        if args.queue is None:
            rows = dead_letters.counts(broker, known)
            if not rows:
                print("no dead letters", file=sys.stderr)
            for row in rows:
                emit(row)
            return 0
        for row in dead_letters.peek(broker, resolve_queue(args.queue, known), args.limit):
            emit(row)
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from engage.engine.audit import audit
    from engage.engine.broker import connect
    from engage.engine.dead_letters import known_queues

    db = engine()
    with db.connect() as conn:
        queue = resolve_queue(args.queue, known_queues(conn))
    with connect(config.load().broker_url) as broker:
        replayed = broker.replay_dead_letters(queue, args.limit)
    with db.begin() as conn:
        audit(conn, args.actor, "dlq.replay", "queue", queue, replayed=replayed, limit=args.limit)
    emit({"queue": queue, "replayed": replayed})
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    dlq = sub.add_parser("dlq", help="dead letters: list them, replay them").add_subparsers(dest="action",
                                                                                            required=True)
    s = dlq.add_parser("list", help="queues with dead letters and counts; with QUEUE, each one's reason and body")
    s.add_argument("queue", nargs="?", metavar="QUEUE", help="e.g. engage.send.3 or engage.receipts")
    s.add_argument("--limit", type=_positive, default=20, help="dead letters to show (default 20)")
    s.set_defaults(fn=cmd_dlq_list)

    s = dlq.add_parser("replay", help="move QUEUE's dead letters back to it for another try")
    s.add_argument("queue", metavar="QUEUE")
    s.add_argument("--limit", type=_positive, help="at most this many (default: all there now)")
    s.set_defaults(fn=cmd_dlq_replay)
