"""Bulk point loads: a file of msisdn, points, reason and external_id, read into a load with what is
wrong with each row, then posted once a second person approves it (load_posting.py).

Reading judges every row and posts nothing: a number that is not valid, no such subscriber, not a
member of the programme (with enrol, an existing subscriber is enrolled "bulk" when the load is posted),
a member closed or suspended, points that are not a positive whole number (a load gives points; taking
them is an adjustment), a reason or external id missing or too long, an external id the file gave on an
earlier line. A row whose external id an earlier load posted already is no problem: it is counted
"posted before" and posts nothing again, since the external id is the entry's idempotency key (source
"bulk:<programme id>"). The same file (by its SHA-256) for the same programme is refused, naming the
load it was. Rows are judged in chunks: one query for the chunk's members, one for its keys posted
before, one insert of its rows."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, select, update

from engage import config
from engage.engine.audit import audit
from engage.engine.loyalty import programmes
from engage.engine.loyalty.load_files import LoadFileError, RawRow, rows_of
from engage.engine.phones import InvalidNumber, mask, to_e164
from engage.engine.store.bulk import insert_rows, one_of
from engage.engine.store.database import aware
from engage.engine.store.schema import (
    LoyaltyEntry,
    LoyaltyLoad,
    LoyaltyLoadRow,
    LoyaltyMember,
    LoyaltyProgramme,
    Subscriber,
)

CHUNK = 5_000
MAX_REASON = 200
MAX_EXTERNAL_ID = 64
MAX_POINTS = 1_000_000_000
PAGE = 100
STATES = ("pending", "approved", "posted", "rejected")  # approved: posting began and has not finished
WHOLE = re.compile(r"[+-]?[0-9]{1,15}(\.0*)?")
PLAIN_NUMBER = re.compile(r"\+?[0-9*]+")  # a number, masked or not: no function to run
CSV_RISKY = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas


class LoadError(ValueError):
    """A load refused (the same file again, a whole-file mistake) or an action on it refused."""


def source_of(programme_id: int) -> str:
    """The ledger's idempotency namespace of a programme's loads: an external id posts once in it."""
    return f"bulk:{programme_id}"


def read(conn: Connection, programme: programmes.Programme | int | str, filename: str, data: bytes, *,
         actor: str, enrol: bool = False, region: str | None = None) -> dict[str, Any]:
    """Read the file into a pending load and its rows; the load's summary. LoadError for the same
    file again or a file that cannot be read at all (nothing is written then)."""
    if not isinstance(programme, programmes.Programme):
        programme = programmes.get(conn, programme)
    filename = (filename or "upload").strip()[:200] or "upload"
    digest = hashlib.sha256(data).hexdigest()
    earlier = conn.execute(select(LoyaltyLoad).where(LoyaltyLoad.programme_id == programme.id,
                                                     LoyaltyLoad.sha256 == digest)).first()
    if earlier is not None:
        raise LoadError(f"{filename}: this file was uploaded as load {earlier.id} on "
                        f"{aware(earlier.uploaded_at):%Y-%m-%d %H:%M} UTC by {earlier.uploaded_by} "
                        f"({earlier.state}); a file with other rows is a new load")
    rows = rows_of(filename, data)
    try:
        first = next(rows)
    except LoadFileError as exc:
        raise LoadError(str(exc)) from None
    load_id = conn.execute(insert(LoyaltyLoad).values(
        programme_id=programme.id, filename=filename, sha256=digest, state="pending", uploaded_by=actor)
        .returning(LoyaltyLoad.id)).scalar_one()
    checker = _Checker(conn, programme, load_id, region or config.load().default_region, enrol)
    try:
        for chunk in _batched(_with_first(first, rows), CHUNK):
            checker.add(chunk)
    except LoadFileError as exc:
        raise LoadError(str(exc)) from None
    counts = recount(conn, load_id)
    audit(conn, actor, "loyalty.load.upload", "loyalty_load", load_id, programme=programme.code, filename=filename,
          sha256=digest, enrol=enrol, **counts)
    return summary(conn, load_id) or {}


def _with_first(first: RawRow, rest: Iterable[RawRow]) -> Iterator[RawRow]:
    yield first
    yield from rest


def _batched(rows: Iterator[RawRow], size: int) -> Iterator[list[RawRow]]:
    while batch := list(islice(rows, size)):
        yield batch


class _Checker:
    """Judges rows a chunk at a time; remembers the external ids seen, for repeats across chunks."""

    def __init__(self, conn: Connection, programme: programmes.Programme, load_id: int, region: str,
                 enrol: bool) -> None:
        self.conn, self.programme, self.load_id, self.region, self.enrol = conn, programme, load_id, region, enrol
        self.seen: dict[str, int] = {}  # external id -> the line that gave it first

    def add(self, chunk: Sequence[RawRow]) -> None:
        judged = [self._own(raw) for raw in chunk]
        numbers = sorted({r["msisdn"] for r in judged if r["problem"] is None})
        found = {n: (sub, member, status) for n, sub, member, status in self.conn.execute(
            select(Subscriber.msisdn, Subscriber.id, LoyaltyMember.id, LoyaltyMember.status)
            .outerjoin(LoyaltyMember, and_(LoyaltyMember.subscriber_id == Subscriber.id,
                                           LoyaltyMember.programme_id == self.programme.id))
            .where(one_of(self.conn, Subscriber.msisdn, numbers)))} if numbers else {}
        keys = sorted({r["external_id"] for r in judged if r["problem"] is None})
        before = dict(self.conn.execute(select(LoyaltyEntry.idem_key, LoyaltyEntry.id).where(
            LoyaltyEntry.source == source_of(self.programme.id), one_of(self.conn, LoyaltyEntry.idem_key, keys))).all()
        ) if keys else {}
        for row in judged:
            if row["problem"] is not None:
                continue
            if row["external_id"] in before:  # not a problem: done already, by an earlier load
                row["entry_id"] = before[row["external_id"]]
                row["member_id"] = found.get(row["msisdn"], (None, None, None))[1]
                continue
            row["problem"], row["member_id"] = self._membership(found.get(row["msisdn"]))
        insert_rows(self.conn, LoyaltyLoadRow.__table__, judged)

    def _membership(self, found: tuple[int, int | None, str | None] | None) -> tuple[str | None, int | None]:
        if found is None:
            return "msisdn: no such subscriber", None
        _, member, status = found
        if member is None:
            return (None, None) if self.enrol else (f"msisdn: not a member of {self.programme.code} "
                                                    "(upload with enrol to enrol existing subscribers)", None)
        if status != "active":
            return f"msisdn: the member is {status}: a {status} member earns no points", member
        return None, member

    def _own(self, raw: RawRow) -> dict[str, Any]:
        """The row's own mistakes (those needing no database), the first one found in column order."""
        problem = None
        text = _text(raw.msisdn)
        msisdn = text[:32] if text else None
        if not text:
            problem = "msisdn: missing"
        else:
            try:
                msisdn = to_e164(text, self.region)
            except InvalidNumber:
                problem = f"msisdn: not a valid phone number (region {self.region})"
        points, wrong = _points(raw.points)
        problem = problem or wrong
        reason = _text(raw.reason)
        if not reason:
            problem = problem or "reason: missing (say why the points are given)"
        elif len(reason) > MAX_REASON:
            problem = problem or f"reason: {len(reason)} characters, more than {MAX_REASON}"
        external_id = _text(raw.external_id)
        if not external_id:
            problem = problem or "external_id: missing (each row needs its own id: it makes the row post once)"
        elif len(external_id) > MAX_EXTERNAL_ID:
            problem = problem or f"external_id: {len(external_id)} characters, more than {MAX_EXTERNAL_ID}"
        elif external_id in self.seen:
            problem = problem or f"external_id: {external_id!r} is on line {self.seen[external_id]} already"
        else:
            self.seen[external_id] = raw.line
        return {"load_id": self.load_id, "line": raw.line, "msisdn": msisdn, "member_id": None, "points": points,
                "reason": reason[:MAX_REASON] if reason else None,
                "external_id": external_id[:MAX_EXTERNAL_ID] if external_id else None,
                "problem": problem[:200] if problem else None, "entry_id": None}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # a number column of a Parquet file: 998901234567.0
        value = int(value)
    return str(value).strip()


def _points(value: Any) -> tuple[int | None, str | None]:
    """(points, None) or (None, the problem)."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        return None, "points: missing"
    whole: int | None = None
    if isinstance(value, int):
        whole = value
    elif isinstance(value, float | Decimal):
        whole = int(value) if math.isfinite(value) and value == int(value) else None
    elif WHOLE.fullmatch(str(value).strip()):
        whole = int(Decimal(str(value).strip()))
    if whole is None:
        return None, f"points: {str(value)[:30]!r} is not a whole number"
    if whole <= 0:
        return None, f"points: {whole} is not positive (a load gives points; to take points, make an adjustment)"
    if whole > MAX_POINTS:
        return None, f"points: {whole} is more than a load gives a member at once ({MAX_POINTS:,})"
    return whole, None


def recount(conn: Connection, load_id: int) -> dict[str, int]:
    """The load's counts from its rows, written on the load: rows, good and bad ones, the points the
    load gives (its good rows but those posted before it) and the rows it posted."""
    r, e = LoyaltyLoadRow, LoyaltyEntry
    mine = and_(e.cause == "bulk", e.cause_id == str(load_id))
    total, good, points, posted = conn.execute(
        select(func.count(), func.count(case((r.problem.is_(None), 1))),
               func.coalesce(func.sum(case((and_(r.problem.is_(None), r.entry_id.is_(None) | mine), r.points))), 0),
               func.count(case((mine, 1))))
        .select_from(r).outerjoin(e, e.id == r.entry_id).where(r.load_id == load_id)).one()
    counts = {"rows_total": int(total), "rows_good": int(good), "rows_bad": int(total) - int(good),
              "points_total": int(points), "rows_posted": int(posted)}
    conn.execute(update(LoyaltyLoad).where(LoyaltyLoad.id == load_id).values(**counts))
    return counts


def summary(conn: Connection, load_id: int) -> dict[str, Any] | None:
    """A load's figures as pages and the command line show them; None when there is no such load."""
    load = conn.execute(select(LoyaltyLoad).where(LoyaltyLoad.id == load_id)).first()
    if load is None:
        return None
    r, e = LoyaltyLoadRow, LoyaltyEntry
    before = conn.execute(select(func.count()).select_from(r).join(e, e.id == r.entry_id).where(
        r.load_id == load_id, r.problem.is_(None), ~and_(e.cause == "bulk", e.cause_id == str(load_id)))).scalar()
    return {**_listed_row(load), "posted_before": int(before or 0)}


def _listed_row(load: Any) -> dict[str, Any]:
    return {"load": load.id, "programme_id": load.programme_id, "filename": load.filename, "state": load.state,
            "rows": load.rows_total, "good": load.rows_good, "bad": load.rows_bad, "points": load.points_total,
            "posted": load.rows_posted, "uploaded_by": load.uploaded_by, "uploaded_at": aware(load.uploaded_at),
            "decided_by": load.decided_by, "decided_at": aware(load.decided_at) if load.decided_at else None,
            "decision_reason": load.decision_reason}


def listed(conn: Connection, programme_id: int, *, limit: int = 200) -> list[dict[str, Any]]:
    """The programme's loads, newest first."""
    return [_listed_row(load) for load in conn.execute(select(LoyaltyLoad).where(
        LoyaltyLoad.programme_id == programme_id).order_by(LoyaltyLoad.id.desc()).limit(limit))]


def waiting_by_programme(conn: Connection) -> list[tuple[str, str, int]]:
    """(code, name, how many) of the programmes whose loads wait for a second person."""
    return [(code, name, int(n)) for code, name, n in conn.execute(
        select(LoyaltyProgramme.code, LoyaltyProgramme.name, func.count()).join(
            LoyaltyLoad, LoyaltyLoad.programme_id == LoyaltyProgramme.id).where(LoyaltyLoad.state == "pending")
        .group_by(LoyaltyProgramme.code, LoyaltyProgramme.name).order_by(LoyaltyProgramme.code))]


def report(conn: Connection, load_id: int, offset: int = 0, limit: int = PAGE, *,
           masked: bool = False) -> list[dict[str, Any]]:
    """The rows with a problem, by line: each with what it gave and what is wrong."""
    r = LoyaltyLoadRow
    rows = conn.execute(select(r.line, r.msisdn, r.points, r.reason, r.external_id, r.problem).where(
        r.load_id == load_id, r.problem.is_not(None)).order_by(r.line).offset(max(offset, 0)).limit(limit))
    return [{**row._mapping, "msisdn": _shown(row.msisdn, masked)} for row in rows]


def report_csv(conn: Connection, load_id: int, *, masked: bool = False) -> str:
    """Every row with a problem, as CSV (line, msisdn, points, reason, external_id, problem), to fix
    the file by; a cell a spreadsheet would run as a formula starts with an apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["line", "msisdn", "points", "reason", "external_id", "problem"])
    offset = 0
    while page := report(conn, load_id, offset, CHUNK, masked=masked):
        writer.writerows([_safe(row[k]) for k in ("line", "msisdn", "points", "reason", "external_id", "problem")]
                         for row in page)
        offset += len(page)
    return out.getvalue()


def _shown(msisdn: str | None, masked: bool) -> str | None:
    return mask(msisdn) if masked and msisdn else msisdn


def _safe(value: Any) -> Any:
    risky = isinstance(value, str) and value.startswith(CSV_RISKY) and not PLAIN_NUMBER.fullmatch(value)
    return f"'{value}" if risky else value


def get_load(conn: Connection, load_id: int) -> Any:
    """The load's row; LoadError when there is none."""
    load = conn.execute(select(LoyaltyLoad).where(LoyaltyLoad.id == load_id)).first()
    if load is None:
        raise LoadError(f"load {load_id}: there is no such load")
    return load


def decided_words(load: Any) -> str:
    """ "posted by b@x on 2027-01-05 10:00 UTC", for refusals."""
    at = f" on {aware(load.decided_at):%Y-%m-%d %H:%M} UTC" if load.decided_at else ""
    return f"{load.state} by {load.decided_by}{at}" if load.decided_by else load.state
