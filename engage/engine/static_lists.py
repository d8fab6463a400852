"""Static lists: numbers uploaded as they are ("the prize winners", "the pilot group"), used as
a segment criterion. Each number is validated like an import; bad lines are reported, good ones kept."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from sqlalchemy import Connection, insert, select

from engage.engine.audit import audit
from engage.engine.phones import InvalidNumber, to_e164
from engage.engine.store.bulk import insert_rows
from engage.engine.store.schema import StaticList, StaticListMember
from engage.engine.subscribers.csv_source import CsvSource
from engage.engine.subscribers.rows import NUMBER_HEADERS, RowError, text_problem

MAX_NUMBER_TEXT = 64  # characters of a number as typed, spaces and dashes included


class ListError(ValueError):
    pass


@dataclass
class ListReport:
    list_id: int
    members: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    label: str = "line"  # what the first column of the rejections report counts

    def as_dict(self) -> dict[str, object]:
        return {"list_id": self.list_id, "members": self.members, "rejected": len(self.rejected)}


class Rejected(str):
    """A line read_numbers could not take: its reason, in place of the number."""


def read_numbers(path: Path, encoding: str | None = None) -> Iterator[tuple[int, str]]:
    """(line, raw number) from a file of one number per line, or a CSV with a number column, read as
    subscriber imports are (csv_source: the encoding found or given, a line it cannot decode or a
    quote left open rejected with its line); a line that cannot be a number is (line, Rejected(why)).
    ListError for a file that is not CSV text at all."""
    try:
        with CsvSource(path, encoding) as source:
            header = [h.strip().lower() for h in source.header]
            column = next((header.index(h) for h in NUMBER_HEADERS if h in header), None)
            first = [(1, source.header)] if column is None else []  # no header: the first line is a number too
            column = column or 0
            for line, row in chain(first, source.records()):
                if row and any(cell.strip() for cell in row):
                    raw = row[column] if column < len(row) else ""
                    problem = text_problem(raw, MAX_NUMBER_TEXT, source.encoding)
                    yield line, Rejected(f"number: {problem}") if problem else raw
            yield from ((line, Rejected(reason)) for line, reason in source.rejected)
    except RowError as exc:
        raise ListError(f"file: {exc}") from None


def create(conn: Connection, name: str, numbers: Iterable[tuple[int, str]], *, region: str,
           branch: str | None, actor: str) -> ListReport:
    if not name.strip():
        raise ListError("name: needs a name")
    if conn.execute(select(StaticList.id).where(StaticList.name == name)).first():
        raise ListError(f"name: a list called {name!r} exists")
    list_id = conn.execute(insert(StaticList.__table__).values(
        name=name, branch=branch, created_by=actor)).inserted_primary_key[0]
    report = ListReport(list_id)
    members: set[str] = set()
    for line, raw in numbers:
        if isinstance(raw, Rejected):
            report.rejected.append((line, str(raw)))
            continue
        try:
            members.add(to_e164(raw, region))
        except InvalidNumber as exc:
            report.rejected.append((line, f"number: {exc}"))
    rows = [{"list_id": list_id, "msisdn": n} for n in sorted(members)]
    for i in range(0, len(rows), 10_000):
        insert_rows(conn, StaticListMember.__table__, rows[i:i + 10_000])
    report.members = len(rows)
    audit(conn, actor, "list.create", "static_list", list_id, name=name, members=len(rows),
          rejected=len(report.rejected))
    return report
