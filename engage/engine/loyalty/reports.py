"""A programme's reports for a range of days: points issued, redeemed, expired, adjusted and reversed
per period; issued per rule version and per cause; the liability now; members by level and status;
what went through each partner and each exchanged programme; how subscribers use the programme (USSD,
keywords, campaigns: report_usage.py).

Each table is one query grouped in the database (a partner's statement, settlement.py's, is two), so
a report costs the same for a hundred members or ten million. A period's figures are the entries
posted in it (posted_at), not those whose cause happened in it: a report of a past month never
changes, and its net is what the points outstanding moved by, so one month's closing is the next
one's opening. The figures are the whole programme's: a programme serves every branch, and a
partner's statement or the liability is the operator's, not a branch's.

    made = report(conn, programme_id, date(2026, 11, 1), date(2026, 12, 31), by="month", zone="Asia/Tashkent")
    made["tables"]["periods"]["rows"]   # [{"period": date(2026, 11, 1), "issued": ..., ...}, ...]
    as_csv(made, "per_rule")
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, case, func, select
from sqlalchemy.orm import aliased

from engage.engine.loyalty import programmes, report_usage, settlement
from engage.engine.loyalty.exchange import statement as exchange_statement
from engage.engine.loyalty.loads import CSV_RISKY
from engage.engine.loyalty.report_periods import ReportError, Span, bucket, labels, span, within
from engage.engine.store.schema import (
    LoyaltyBalance,
    LoyaltyEntry,
    LoyaltyExchangePartner,
    LoyaltyLot,
    LoyaltyMember,
    LoyaltyPartner,
    LoyaltyRule,
)

CENT = Decimal("0.01")
STATUSES = ("active", "suspended", "closed")
EXPIRING_WITHIN = timedelta(days=30)
e, m = LoyaltyEntry, LoyaltyMember

# the period table's movements: key -> (heading, what an entry adds to it)
_CREDIT = {"earned": "earn", "adjusted_in": "adjust", "exchanged_in": "exchange_in", "transferred_in": "transfer_in"}
_DEBIT = {"adjusted_out": "adjust", "exchanged_out": "exchange_out", "transferred_out": "transfer_out",
          "burnt": "partner_burn", "expired": "expire"}


def _movements() -> dict[str, Any]:
    sums: dict[str, Any] = {}
    for key, kind in _CREDIT.items():
        sums[key] = case(((e.kind == kind) & (e.points > 0), e.points), else_=0)
    for key, kind in _DEBIT.items():
        sums[key] = case(((e.kind == kind) & (e.points < 0), -e.points), else_=0)
    sums["redeemed"] = case((e.kind == "redeem", -e.held), else_=0)
    sums["reversed_in"] = case(((e.kind == "reversal") & (e.points > 0), e.points), else_=0)
    sums["reversed_out"] = case(((e.kind == "reversal") & (e.points < 0), -e.points), else_=0)
    sums["net"] = e.points + e.held
    return sums


PERIOD_COLUMNS = [
    ("period", "Period from", "day"), ("issued", "Issued", "points"), ("earned", "of which earned", "points"),
    ("adjusted_in", "Adjusted up", "points"), ("adjusted_out", "Adjusted down", "points"),
    ("exchanged_in", "Exchanged in", "points"), ("exchanged_out", "Exchanged out", "points"),
    ("transferred_in", "Transferred in", "points"), ("transferred_out", "Transferred out", "points"),
    ("redeemed", "Redeemed for rewards", "points"), ("burnt", "Burnt at partners", "points"),
    ("expired", "Expired", "points"), ("reversed_in", "Given back by reversals", "points"),
    ("reversed_out", "Taken back by reversals", "points"), ("net", "Net change outstanding", "points"),
    ("entries", "Entries", "entries")]
TITLES = {"periods": "Points per period", "per_rule": "Issued per rule", "per_cause": "Entries per cause",
          "liability": "Outstanding liability now", "levels": "Members by level and status",
          "partners": "Per partner (settlement)", "exchange": "Per exchanged programme", **report_usage.TITLES}
TABLES = tuple(TITLES)
EMPTY = {"per_rule": "No points were earned by a rule in this range.", "per_cause": "No points moved in this range.",
         "levels": "The programme has no members yet.", "partners": "The programme has no merchant partners.",
         "exchange": "The programme exchanges points with no other programme.", **report_usage.EMPTY}


def report(conn: Connection, programme_id: int, first: date, last: date, *, by: str = "month", zone: str = "UTC",
           tables: tuple[str, ...] | list[str] | None = None, now: datetime | None = None,
           branch: str | None = None) -> dict[str, Any]:
    """The report's tables (all, or those named) for [first, last] in `zone`: each {title, columns:
    [{key, heading, unit}], rows: [dict]}. branch: the reader's; only the campaigns' names depend on it
    (another branch's campaign is counted, not named). ReportError names a wrong argument."""
    wanted = list(tables or TABLES)
    for name in wanted:
        if name not in TABLES:
            raise ReportError("table", f"{str(name)[:30]!r} is not one of {', '.join(TABLES)}")
    made = span(first, last, by, zone)
    try:
        programme = programmes.get(conn, programme_id)
    except LookupError:
        raise ReportError("programme", f"there is no loyalty programme {programme_id!r}") from None
    builders = {"periods": _periods, "per_rule": _per_rule, "per_cause": _per_cause, "liability": _liability,
                "levels": _levels, "partners": _partners, "exchange": _exchange}
    out: dict[str, Any] = {}
    for name in wanted:
        if name in builders:
            columns, rows = builders[name](conn, programme, made, now or datetime.now(UTC))
        else:
            columns, rows = report_usage.table(conn, programme.id, name, made, branch=branch)
        out[name] = {"title": TITLES[name], "rows": rows, "empty": EMPTY.get(name, "Nothing in this range."),
                     "columns": [{"key": k, "heading": h, "unit": u} for k, h, u in columns]}
    return {"programme": {"code": programme.code, "name": programme.name, "currency": programme.currency,
                          "point_value": programme.point_value},
            "from": made.first, "to": made.last, "by": made.by, "zone": made.zone, "start": made.start,
            "end": made.end, "tables": out}


def _periods(conn: Connection, programme: programmes.Programme, made: Span, _now: datetime) -> tuple[list, list]:
    """One row per period of the range, those without entries too."""
    sums = _movements()
    inner = (select(bucket(conn, e.posted_at, made).label("period"), *[v.label(k) for k, v in sums.items()])
             .join(m, m.id == e.member_id).where(m.programme_id == programme.id, *within(conn, e.posted_at, made))
             .subquery())
    found = {row.period: row._mapping for row in conn.execute(
        select(inner.c.period, *[func.sum(inner.c[k]).label(k) for k in sums], func.count().label("entries"))
        .group_by(inner.c.period))}
    rows = []
    for first in labels(made):
        got = found.get(first.isoformat(), {})
        row: dict[str, Any] = {"period": first, **{k: int(got.get(k) or 0) for k in [*sums, "entries"]}}
        row["issued"] = sum(row[k] for k in _CREDIT)
        rows.append(row)
    return PERIOD_COLUMNS, rows


def _per_rule(conn: Connection, programme: programmes.Programme, made: Span, _now: datetime) -> tuple[list, list]:
    """Points earned by each rule version (cause "rule", cause_id "code@vN") and those of its earns
    reversed in the range."""
    in_range = (m.programme_id == programme.id, *within(conn, e.posted_at, made))
    earned = conn.execute(select(e.cause_id, func.count(), func.count(e.member_id.distinct()), func.sum(e.points))
                          .join(m, m.id == e.member_id).where(*in_range, e.cause == "rule", e.kind == "earn")
                          .group_by(e.cause_id)).all()
    original = aliased(LoyaltyEntry)
    undone = dict(conn.execute(select(original.cause_id, func.sum(-e.points)).join(original, original.id == e.reverses)
                               .join(m, m.id == e.member_id).where(*in_range, e.kind == "reversal",
                                                                   original.cause == "rule", original.kind == "earn")
                               .group_by(original.cause_id)).all())
    names = dict(conn.execute(select(LoyaltyRule.code, LoyaltyRule.name).where(
        LoyaltyRule.programme_id == programme.id)).all())
    rows = []
    for cause_id in sorted({c for c, *_ in earned} | set(undone), key=lambda c: c or ""):
        entries, members, points = next(((n, k, p) for c, n, k, p in earned if c == cause_id), (0, 0, 0))
        code, _, version = (cause_id or "?").partition("@v")
        rows.append({"rule": code, "name": names.get(code, ""), "version": int(version) if version.isdigit() else None,
                     "points": int(points or 0), "reversed": int(undone.get(cause_id) or 0),
                     "members": int(members), "entries": int(entries)})
    rows.sort(key=lambda r: (-r["points"], r["rule"], r["version"] or 0))
    return ([("rule", "Rule", ""), ("name", "Name", ""), ("version", "Version", ""), ("points", "Earned", "points"),
             ("reversed", "Of those, reversed", "points"), ("members", "Members", "members"),
             ("entries", "Entries", "entries")], rows)


def _per_cause(conn: Connection, programme: programmes.Programme, made: Span, _now: datetime) -> tuple[list, list]:
    """Every movement by what caused it (rule, campaign, partner, bulk, person, redemption, expiry...)."""
    rows = [{"cause": cause, "kind": kind, "points": int(points or 0), "held": int(held or 0), "members": int(members),
             "entries": int(n)} for cause, kind, points, held, members, n in conn.execute(
        select(e.cause, e.kind, func.sum(e.points), func.sum(e.held), func.count(e.member_id.distinct()), func.count())
        .join(m, m.id == e.member_id).where(m.programme_id == programme.id, *within(conn, e.posted_at, made))
        .group_by(e.cause, e.kind).order_by(e.cause, e.kind))]
    return ([("cause", "Cause", ""), ("kind", "Entry", ""), ("points", "Points (available)", "points"),
             ("held", "Held", "points"), ("members", "Members", "members"), ("entries", "Entries", "entries")], rows)


def _liability(conn: Connection, programme: programmes.Programme, _made: Span, now: datetime) -> tuple[list, list]:
    """Now, whatever the range: points available and held, worth the programme's point value; and of
    them, those that expire within 30 days."""
    b = LoyaltyBalance
    holders, available, held = conn.execute(
        select(func.count(), func.coalesce(func.sum(b.available), 0), func.coalesce(func.sum(b.held), 0))
        .join(m, m.id == b.member_id).where(m.programme_id == programme.id, (b.available + b.held) > 0)).one()
    lot = LoyaltyLot
    expiring = conn.execute(select(func.coalesce(func.sum(lot.remaining), 0)).join(m, m.id == lot.member_id).where(
        m.programme_id == programme.id, lot.remaining > 0, lot.expires_at.is_not(None),
        lot.expires_at <= now + EXPIRING_WITHIN)).scalar_one()
    outstanding = int(available) + int(held)
    currency = programme.currency
    return ([("members", "Members holding points", "members"), ("available", "Available", "points"),
             ("held", "Held in redemptions", "points"), ("outstanding", "Outstanding", "points"),
             ("point_value", "Point value", currency), ("liability", "Liability", currency),
             ("expiring", "Expiring within 30 days", "points"), ("expiring_value", "Their value", currency)],
            [{"members": int(holders), "available": int(available), "held": int(held), "outstanding": outstanding,
              "point_value": programme.point_value.normalize(), "liability": _money(outstanding, programme.point_value),
              "expiring": int(expiring), "expiring_value": _money(int(expiring), programme.point_value)}])


def _levels(conn: Connection, programme: programmes.Programme, _made: Span, _now: datetime) -> tuple[list, list]:
    """Now: members per level (none: no level reached or the programme has none) and status, with the
    points they hold."""
    b = LoyaltyBalance
    rows: dict[str, dict[str, Any]] = {}
    for level, status, n, points in conn.execute(
            select(m.level, m.status, func.count(), func.coalesce(func.sum(b.available + b.held), 0))
            .outerjoin(b, b.member_id == m.id).where(m.programme_id == programme.id).group_by(m.level, m.status)):
        row = rows.setdefault(level or "", {"level": level or "none", **dict.fromkeys(STATUSES, 0), "members": 0,
                                            "outstanding": 0})
        row[status if status in STATUSES else "closed"] += int(n)
        row["members"] += int(n)
        row["outstanding"] += int(points)
    listed = sorted(rows.values(), key=lambda r: (-r["members"], r["level"]))
    if listed:
        listed.append({"level": "all", **{k: sum(r[k] for r in listed) for k in (*STATUSES, "members", "outstanding")}})
    return ([("level", "Level", ""), *[(s, s.capitalize(), "members") for s in STATUSES],
             ("members", "Members", "members"), ("outstanding", "Points outstanding", "points")], listed)


def _partners(conn: Connection, programme: programmes.Programme, made: Span, _now: datetime) -> tuple[list, list]:
    """Each merchant's settlement statement for the range (settlement.py: a reversal counts when made)."""
    ids = conn.execute(select(LoyaltyPartner.id).where(LoyaltyPartner.programme_id == programme.id)
                       .order_by(LoyaltyPartner.code)).scalars().all()
    rows = []
    for partner_id in ids:
        s = settlement.statement(conn, partner_id, made.start, made.end)
        rows.append({"partner": s.partner, "name": s.partner_name, "earns": s.earns, "sales": s.sales,
                     "currency": s.currency, "issued": s.issued, "issued_reversed": s.issued_reversed,
                     "issued_value": s.issued_value, "burns": s.burns, "burnt": s.burnt,
                     "burnt_reversed": s.burnt_reversed, "burnt_value": s.burnt_value, "net": s.net})
    currency = programme.currency
    return ([("partner", "Partner", ""), ("name", "Name", ""), ("earns", "Purchases", "transactions"),
             ("sales", "Sales", "partner's currency"), ("currency", "Partner's currency", ""),
             ("issued", "Issued", "points"), ("issued_reversed", "Issued, reversed", "points"),
             ("issued_value", "Owed by the partner", currency), ("burns", "Burns", "transactions"),
             ("burnt", "Burnt", "points"), ("burnt_reversed", "Burnt, reversed", "points"),
             ("burnt_value", "Owed to the partner", "partner's currency"),
             ("net", "Net due from the partner", "one currency only")], rows)


def _exchange(conn: Connection, programme: programmes.Programme, made: Span, _now: datetime) -> tuple[list, list]:
    """Each exchanged programme's statement for the range: our points and theirs, each way."""
    x = LoyaltyExchangePartner
    ids = conn.execute(select(x.id).where(x.programme_id == programme.id).order_by(x.code)).scalars().all()
    rows = []
    for partner_id in ids:
        s = exchange_statement(conn, partner_id, made.start, made.end)
        rows.append({"exchange_partner": s["exchange_partner"], "name": s["name"],
                     **{f"{d}_{k}": s[d][k] for d in ("in", "out") for k in ("exchanges", "points", "their_points")}})
    return ([("exchange_partner", "Programme", ""), ("name", "Name", ""), ("in_exchanges", "In", "exchanges"),
             ("in_points", "In, ours", "points"), ("in_their_points", "In, theirs", "their points"),
             ("out_exchanges", "Out", "exchanges"), ("out_points", "Out, ours", "points"),
             ("out_their_points", "Out, theirs", "their points")], rows)


def _money(points: int, value: Decimal) -> Decimal:
    return (Decimal(points) * value).quantize(CENT)


def as_csv(made: dict[str, Any], table: str) -> str:
    """One table of a report as CSV: a line of column keys, then its rows; dates ISO, money as decimals, a
    text that a spreadsheet would run as a formula with a leading apostrophe."""
    if table not in made["tables"]:
        raise ReportError("table", f"{str(table)[:30]!r} is not one of {', '.join(made['tables'])}")
    shown = made["tables"][table]
    keys = [c["key"] for c in shown["columns"]]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(keys)
    for row in shown["rows"]:
        writer.writerow([_cell(row.get(k)) for k in keys])
    return text.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(CSV_RISKY):
        return "'" + value  # a name a spreadsheet would run as a formula
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def as_json(made: dict[str, Any]) -> dict[str, Any]:
    """The report with its values as JSON has them: dates ISO, money as decimal strings."""
    def plain(value: Any) -> Any:
        return value if value is None or isinstance(value, bool | int | str) else _cell(value)
    return {"programme": {k: plain(v) for k, v in made["programme"].items()},
            **{k: plain(made[k]) for k in ("from", "to", "by", "zone", "start", "end")},
            "tables": {name: {"title": t["title"], "columns": t["columns"],
                              "rows": [{k: plain(v) for k, v in row.items()} for row in t["rows"]]}
                       for name, t in made["tables"].items()}}
