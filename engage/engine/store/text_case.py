"""Comparing text without regard to case, in every script, on both databases.

SQLite's own lower() (and LIKE) fold only ASCII letters: "Дилноза" stays "Дилноза", so a person
searching for "дилн" would find no one, though the segment builder (which compares in Python)
counts them. Every SQLite connection engage opens therefore gets ``engage_lower``, Python's
str.lower, and ``lowered(column)`` compiles to it there; PostgreSQL's lower() already folds every
script of a UTF-8 database (its LC_CTYPE decides, and initdb's UTF-8 locales all do). Python's and
PostgreSQL's rules agree for the letters of names; the term typed is folded with str.lower too."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

SQLITE_FUNCTION = "engage_lower"


class lowered(FunctionElement):  # noqa: N801 - reads as the SQL function it stands for
    """``lowered(column)``: the text in lower case, whatever its script."""

    type = String()
    name = "lowered"
    inherit_cache = True


@compiles(lowered)
def _lower(element: lowered, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(lowered, "sqlite")
def _engage_lower(element: lowered, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_FUNCTION}({compiler.process(element.clauses, **kw)})"


def fold(text: str | None) -> str | None:
    """What ``lowered`` gives on SQLite, and how a typed search term is folded to meet it."""
    return text.lower() if isinstance(text, str) else text


def add_sqlite_function(dbapi_conn: Any) -> None:
    """Give a new SQLite connection ``engage_lower`` (deterministic, so an index could use it)."""
    dbapi_conn.create_function(SQLITE_FUNCTION, 1, fold, deterministic=True)
