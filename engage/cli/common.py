"""What every command shares: the database engine, JSON arguments and JSON output."""

from __future__ import annotations

import json
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
