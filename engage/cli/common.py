"""What every command shares: the database engine, JSON arguments and JSON output."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from engage import config

ENCODING_HELP = ("the CSV file's encoding when it is not UTF-8 and has no byte order mark, e.g. cp1251, "
                 "latin-1, utf-16-le (default: UTF-8; a line it cannot decode is rejected, naming the byte)")


def engine() -> Engine:
    from engage.engine.store.database import make_engine

    return make_engine(config.load().database_url)


def json_arg(text: str) -> Any:
    """A JSON value given inline or as @path/to/file.json; one line naming what is wrong otherwise
    (checked as API bodies are: engine.json_input)."""
    from engage.engine.json_input import BodyError, parse

    if text.startswith("@"):
        try:
            raw = Path(text[1:]).read_bytes()
        except OSError as exc:
            reason = exc.strerror.lower() if exc.strerror else "cannot be read"
            raise SystemExit(f"error: {text[1:]}: {reason}") from None
    else:
        raw = text.encode("utf-8", "surrogateescape")
    try:
        return parse(raw)
    except BodyError as exc:
        where = text[1:] if text.startswith("@") else "the JSON argument"
        raise SystemExit(f"error: {where}: {str(exc).removeprefix('body: ')}") from None


def check_args(args: Any) -> None:
    """Every parsed argument of every command, checked once: a whole number no id column can hold,
    or a text with a NUL (or bytes the locale cannot decode), is one line naming the argument."""
    from engage.engine.json_input import MAX_INT, BodyError, check_text

    for name, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, int) and not isinstance(item, bool) and not -MAX_INT - 1 <= item <= MAX_INT:
                raise SystemExit(f"error: {name}: {item} is out of range (a whole number of at most 19 digits)")
            if isinstance(item, str):
                try:
                    check_text(name, item)
                except BodyError as exc:
                    raise SystemExit(f"error: {exc}") from None


def subcommands_of(sub: argparse._SubParsersAction, command: str) -> argparse._SubParsersAction:
    """The subcommands of `engage <command>`, which its own module registered, for another module
    to add to (the loyalty commands are spread over several modules, one job each)."""
    parser = sub.choices[command]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def person_option(s: argparse.ArgumentParser, what: str) -> None:
    """--actor, kept apart from the `actor` main() sets (cli:<login>): `person(args)` reads the two."""
    s.add_argument("--actor", dest="person", help=f"who {what} (default cli:<login>), as the audit log names them")


def person(args: argparse.Namespace) -> str:
    return args.person or args.actor


def emit(data: Any) -> None:
    """One JSON document per line on stdout, so scripts can read every command's answer."""
    print(json.dumps(data, default=str))


def run_csv_import(path: Path, do_import: Callable[[Callable[[int], None]], Any],
                   write_rejections: Callable[[Any, Path], None], *, quiet: bool, report: str | None,
                   known_errors: tuple[type[Exception], ...], total: Callable[[Path], int] | None = None) -> int:
    """A file import with a progress bar; rejected rows go to FILE.rejected.csv (or `report`)
    with their line and reason, and the summary is printed as JSON. total(path) sizes the bar
    for files that are not one row a line (Parquet)."""
    from rich.progress import Progress

    if not path.is_file():
        raise SystemExit(f"error: {path}: no such file")
    try:
        with path.open("rb") as fh:  # bytes: the file's encoding is the import's to find out
            rows = total(path) if total else max(sum(1 for _ in fh) - 1, 0)
        with Progress(disable=quiet, transient=True) as progress:
            task = progress.add_task(f"importing {path.name}", total=rows)
            result = do_import(lambda n: progress.update(task, completed=n))
    except known_errors as exc:
        raise SystemExit(f"error: {exc}") from None
    except OSError as exc:
        raise SystemExit(f"error: {path}: {exc.strerror or exc}") from None
    out = result.as_dict()
    if result.rejected:
        report_path = Path(report or path.with_suffix(".rejected.csv"))
        write_rejections(result, report_path)
        out["report"] = str(report_path)
    emit(out)
    return 0

