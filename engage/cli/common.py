"""What every command shares: the database engine, JSON arguments and JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from engage import config


def engine() -> Engine:
    from engage.engine.store.database import make_engine

    return make_engine(config.load().database_url)


def json_arg(text: str) -> Any:
    """A JSON value given inline or as @path/to/file.json."""
    raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"error: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None


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
    rows = total(path) if total else max(sum(1 for _ in path.open(encoding="utf-8-sig")) - 1, 0)
    with Progress(disable=quiet, transient=True) as progress:
        task = progress.add_task(f"importing {path.name}", total=rows)
        try:
            result = do_import(lambda n: progress.update(task, completed=n))
        except known_errors as exc:
            raise SystemExit(f"error: {exc}") from None
    out = result.as_dict()
    if result.rejected:
        report_path = Path(report or path.with_suffix(".rejected.csv"))
        write_rejections(result, report_path)
        out["report"] = str(report_path)
    emit(out)
    return 0

