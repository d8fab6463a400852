"""Static lists: numbers uploaded as they are ("the prize winners", "the pilot group"), used as
a segment criterion. Each number is validated like an import; bad lines are reported, good ones kept."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, insert, select

from engage.engine.audit import audit
from engage.engine.phones import InvalidNumber, to_e164
from engage.engine.store.bulk import insert_rows
from engage.engine.store.schema import StaticList, StaticListMember
from engage.engine.subscribers.rows import NUMBER_HEADERS


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


def read_numbers(path: Path) -> Iterator[tuple[int, str]]:
    """(line, raw number) from a file of one number per line, or a CSV with a number column."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = csv.reader(fh)
        first = next(rows, None)
        if first is None:
            return
        header = [h.strip().lower() for h in first]
        column = next((header.index(h) for h in NUMBER_HEADERS if h in header), None)
        if column is None:  # no header: the first line is a number too
            column = 0
            yield 1, first[0] if first else ""
        for row in rows:
            if row and any(cell.strip() for cell in row):
                yield rows.line_num, row[column] if column < len(row) else ""


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
