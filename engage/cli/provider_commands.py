"""Commands that manage SMS providers: add, list, update, enable/disable, and live status."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from engage import config
from engage.cli.common import emit, engine, json_arg

# flag -> SMPP config key; tps and priority are columns of their own
SMPP_FLAGS = {"host": "host", "port": "port", "system_id": "system_id", "binds": "binds", "window": "window",
              "system_type": "system_type", "bind_mode": "bind_mode", "long_messages": "long_messages",
              "data_coding": "data_coding", "source_ton": "source_ton", "source_npi": "source_npi",
              "enquire_link": "enquire_link_interval"}
SMPP_DEFAULTS = {"host": "127.0.0.1", "port": 2775, "binds": 1, "window": 32}


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def config_from_args(args: argparse.Namespace, kind: str, *, defaults: bool) -> dict[str, Any]:
    """SMPP flags, then --config over them, then secrets from the environment."""
    given = {key: getattr(args, flag) for flag, key in SMPP_FLAGS.items() if getattr(args, flag) is not None}
    if given and kind != "smpp":
        flags = ", ".join("--" + f.replace("_", "-") for f in SMPP_FLAGS if getattr(args, f) is not None)
        raise ValueError(f"{flags}: SMPP options; give {kind} settings with --config JSON|@file")
    cfg: dict[str, Any] = {**(SMPP_DEFAULTS if defaults and kind == "smpp" else {}), **given}
    if args.password is not None:
        cfg["password"] = args.password
    if args.config is not None:
        extra = json_arg(args.config)
        if not isinstance(extra, dict):
            raise ValueError("--config must be a JSON object")
        cfg.update(extra)
    secrets = list(args.secret_env or [])
    if args.password_env:
        secrets.insert(0, f"password={args.password_env}")
    for item in secrets:
        key, _, var = item.partition("=")
        if not key or not var:
            raise ValueError(f"--secret-env {item!r}: expected KEY=ENV_VAR")
        if var not in os.environ:
            raise ValueError(f"environment variable {var} (for {key}) is not set")
        cfg[key] = os.environ[var]
    return cfg


def cmd_provider_add(args: argparse.Namespace) -> int:
    from engage.engine.providers.records import add_provider

    try:
        cfg = config_from_args(args, args.kind, defaults=True)
        with engine().begin() as conn:
            provider_id = add_provider(conn, name=args.name, kind=args.kind, config=cfg,
                                       tps=args.tps if args.tps is not None else 500,
                                       priority=args.priority if args.priority is not None else 100,
                                       enabled=not args.disabled, actor=args.actor)
    except ValueError as exc:
        return _fail(str(exc))
    emit({"provider_id": provider_id})
    return 0


def cmd_provider_update(args: argparse.Namespace) -> int:
    from engage.engine.providers.records import find, update_provider

    try:
        with engine().begin() as conn:
            kind = find(conn, args.provider).kind
            cfg = config_from_args(args, kind, defaults=False)
            row = update_provider(conn, args.provider, config=cfg, tps=args.tps, priority=args.priority,
                                  name=args.rename, actor=args.actor)
    except (ValueError, LookupError) as exc:
        return _fail(str(exc))
    emit(row)
    return 0


def _set_enabled(args: argparse.Namespace, enabled: bool) -> int:
    from engage.engine.providers.records import set_enabled

    try:
        with engine().begin() as conn:
            row = set_enabled(conn, args.provider, enabled, actor=args.actor)
    except LookupError as exc:
        return _fail(str(exc))
    emit(row)
    return 0


def cmd_provider_list(args: argparse.Namespace) -> int:
    from engage.engine.providers.records import list_providers

    with engine().connect() as conn:
        for row in list_providers(conn):
            emit(row)
    return 0


def status_rows() -> list[dict[str, Any]]:
    """read_status() plus each provider's send-queue depth, from the broker."""
    from engage.engine.broker import connect
    from engage.engine.broker.queues import send_queue
    from engage.engine.providers.status import read_status

    with engine().connect() as conn:
        rows = read_status(conn)
    try:
        with connect(config.load().broker_url) as broker:
            depths = {r["provider_id"]: broker.depth(send_queue(r["provider_id"])) for r in rows}
    except Exception as exc:  # status still shows what the database knows
        print(f"warning: queue depths unavailable: {exc}", file=sys.stderr)
        depths = {}
    for r in rows:
        r["queue_depth"] = depths.get(r["provider_id"])
    return rows


def status_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title="engage providers", caption=time.strftime("%H:%M:%S"))
    for col in ("provider", "kind", "enabled", "healthy", "binds", "tps", "window", "queue",
                "throttled", "temp err", "perm err", "dup?", "heartbeat"):
        table.add_column(col, justify="left" if col in ("provider", "kind") else "right")

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.2%}"

    for r in rows:
        rates = r["error_rates"]
        age = r["last_heartbeat_age"]
        table.add_row(
            r["name"], r["kind"], "yes" if r["enabled"] else "no",
            "[green]yes[/]" if r["healthy"] else "[red]no[/]", f"{r['binds_up']}/{r['binds']}", f"{r['tps']:g}",
            f"{r['in_flight']}/{r['window']}", "-" if r["queue_depth"] is None else str(r["queue_depth"]),
            pct(rates["throttled"]), pct(rates["temporary"]), pct(rates["permanent"]),
            str(r.get("possible_duplicates", 0)), "never" if age is None else f"{age:.0f}s ago")
    return table


def cmd_provider_status(args: argparse.Namespace) -> int:
    if not args.watch:
        for row in status_rows():
            emit(row)
        return 0
    from rich.live import Live

    try:
        with Live(status_table(status_rows()), auto_refresh=False) as live:
            while True:
                time.sleep(args.watch)
                live.update(status_table(status_rows()), refresh=True)
    except KeyboardInterrupt:
        return 0


def _tps(value: str) -> int | str:
    """--tps: a whole number, or "none"."""
    if value.strip().lower() == "none":
        return "none"
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: a whole number of parts per second, or 'none'") from None


def _provider_options(s: argparse.ArgumentParser, *, adding: bool) -> None:
    s.add_argument("--tps", type=_tps, help="parts per second, or 'none' when the provider's rate is not known "
                   "(the sender finds what it accepts)" + (" (default 500)" if adding else ""))
    s.add_argument("--priority", type=int, help="lower is preferred" + (" (default 100)" if adding else ""))
    smpp = s.add_argument_group("SMPP")
    smpp.add_argument("--host", help="SMSC host" + (" (default 127.0.0.1)" if adding else ""))
    smpp.add_argument("--port", type=int, help="SMSC port" + (" (default 2775)" if adding else ""))
    smpp.add_argument("--system-id")
    smpp.add_argument("--system-type")
    smpp.add_argument("--bind-mode", choices=["transceiver", "transmitter_receiver"])
    smpp.add_argument("--binds", type=int, help="connections to open" + (" (default 1)" if adding else ""))
    smpp.add_argument("--window", type=int, help="unanswered submits per bind" + (" (default 32)" if adding else ""))
    smpp.add_argument("--long-messages", choices=["udh8", "udh16", "sar", "payload"],
                      help="how messages over one part are sent")
    smpp.add_argument("--data-coding", type=int, help="data_coding for GSM-7 text (the SMSC's default alphabet)")
    smpp.add_argument("--source-ton", type=int)
    smpp.add_argument("--source-npi", type=int)
    smpp.add_argument("--enquire-link", type=float, metavar="SECONDS", help="enquire_link interval")
    secret = s.add_argument_group("secrets (keep them out of shell history with the *-env forms)")
    secret.add_argument("--password")
    secret.add_argument("--password-env", metavar="VAR", help="read the password from environment variable VAR")
    secret.add_argument("--secret-env", action="append", metavar="KEY=VAR",
                        help="set config KEY from environment variable VAR (repeatable), e.g. api_key=SMS_KEY")
    s.add_argument("--config", help="config as JSON or @file.json, merged over the flags (other kinds' settings)")


def register(sub: argparse._SubParsersAction) -> None:
    prov = sub.add_parser("provider", help="SMS providers").add_subparsers(dest="action", required=True)
    s = prov.add_parser("add", help="add a provider (SMPP by flags, any kind by --config)")
    s.add_argument("--name", required=True)
    s.add_argument("--kind", default="smpp", help="smpp (default), kannel, http_json")
    s.add_argument("--disabled", action="store_true", help="add it switched off")
    _provider_options(s, adding=True)
    s.set_defaults(fn=cmd_provider_add)

    s = prov.add_parser("update", help="change a provider: config keys merged, secrets kept unless given")
    s.add_argument("provider", metavar="NAME|ID")
    s.add_argument("--rename", metavar="NEW_NAME")
    _provider_options(s, adding=False)
    s.set_defaults(fn=cmd_provider_update)

    for action, enabled, text in (("enable", True, "route messages to it again"),
                                  ("disable", False, "stop routing messages to it")):
        s = prov.add_parser(action, help=text)
        s.add_argument("provider", metavar="NAME|ID")
        s.set_defaults(fn=lambda args, enabled=enabled: _set_enabled(args, enabled))

    prov.add_parser("list", help="list providers (secrets masked)").set_defaults(fn=cmd_provider_list)

    s = prov.add_parser("status", help="health, binds, TPS, window, queue depth and error rates, as JSON lines")
    s.add_argument("--watch", type=float, nargs="?", const=2.0, metavar="SECONDS",
                   help="a table refreshed every SECONDS (default 2) until Ctrl-C")
    s.set_defaults(fn=cmd_provider_status)
