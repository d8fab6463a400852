"""Settlement with a partner for a period: the points it issued (earns) and took (burns), less those
reversed in the period, and what they are worth. Points issued are worth the programme's point
value: the partner owes the programme for them. Points burnt are worth the partner's burn value: the
programme owes the partner for them. A reversal counts in the period it was made, not in its
transaction's, so a statement once sent never changes. The net is the partner's to pay when
positive, the programme's when negative; it is given only when both values are in one currency."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import aliased

from engage.engine.loyalty import partners, programmes
from engage.engine.store.schema import LoyaltyPartnerTransaction

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Statement:
    partner: str
    partner_name: str
    programme: str
    start: datetime
    end: datetime
    earns: int
    sales: Decimal  # the purchases that earned, in the partner's currency
    issued: int
    issued_reversed: int
    burns: int
    burnt: int
    burnt_reversed: int
    point_value: Decimal
    programme_currency: str
    burn_value: Decimal
    currency: str  # the partner's

    @property
    def net_issued(self) -> int:
        return self.issued - self.issued_reversed

    @property
    def net_burnt(self) -> int:
        return self.burnt - self.burnt_reversed

    @property
    def issued_value(self) -> Decimal:
        """What the partner owes the programme, in the programme's currency."""
        return (self.net_issued * self.point_value).quantize(CENT)

    @property
    def burnt_value(self) -> Decimal:
        """What the programme owes the partner, in the partner's currency."""
        return (self.net_burnt * self.burn_value).quantize(CENT)

    @property
    def net(self) -> Decimal | None:
        """The partner's to pay when positive; None when the two values are in different currencies."""
        return self.issued_value - self.burnt_value if self.programme_currency == self.currency else None

    def as_json(self) -> dict[str, Any]:
        return {"partner": self.partner, "name": self.partner_name, "programme": self.programme,
                "from": self.start.isoformat(), "to": self.end.isoformat(), "earns": self.earns,
                "sales": format(self.sales, "f"), "issued": self.issued, "issued_reversed": self.issued_reversed,
                "burns": self.burns, "burnt": self.burnt, "burnt_reversed": self.burnt_reversed,
                "issued_value": str(self.issued_value), "issued_currency": self.programme_currency,
                "burnt_value": str(self.burnt_value), "burnt_currency": self.currency,
                "net": None if self.net is None else str(self.net)}


def statement(conn: Connection, partner_id: int, start: datetime, end: datetime) -> Statement:
    """The partner's statement for [start, end)."""
    partner = partners.by_id(conn, partner_id)
    programme = programmes.get(conn, partner.programme_id)
    t = LoyaltyPartnerTransaction
    in_period = (t.partner_id == partner_id, t.created_at >= start, t.created_at < end)
    done = {kind: (int(n), int(points), Decimal(str(amount))) for kind, n, points, amount in conn.execute(
        select(t.kind, func.count(), func.coalesce(func.sum(t.points), 0), func.coalesce(func.sum(t.amount), 0))
        .where(*in_period, t.kind != "reversal").group_by(t.kind))}
    original = aliased(LoyaltyPartnerTransaction)
    undone = dict(conn.execute(select(original.kind, func.coalesce(func.sum(t.points), 0)).join(
        original, original.id == t.reverses).where(*in_period, t.kind == "reversal").group_by(original.kind)).all())
    earns, issued, sales = done.get("earn", (0, 0, Decimal(0)))
    burns, burnt, _ = done.get("burn", (0, 0, Decimal(0)))
    return Statement(partner.code, partner.name, programme.code, start, end, earns, sales.normalize(), issued,
                     int(undone.get("earn", 0)), burns, burnt, int(undone.get("burn", 0)), programme.point_value,
                     programme.currency, partner.burn_value, partner.currency)


def as_csv(made: Statement) -> str:
    """The statement as CSV for the partner's accountants: one line per figure, with its money value
    and currency where it has one."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["partner", "from", "to", "line", "count", "points", "value", "currency"])
    head = [made.partner, made.start.isoformat(), made.end.isoformat()]
    for line, count, points, value, currency in (
            ("sales", made.earns, "", format(made.sales, "f"), made.currency),
            ("issued", made.earns, made.issued, "", ""),
            ("issued_reversed", "", made.issued_reversed, "", ""),
            ("issued_net", "", made.net_issued, made.issued_value, made.programme_currency),
            ("burnt", made.burns, made.burnt, "", ""),
            ("burnt_reversed", "", made.burnt_reversed, "", ""),
            ("burnt_net", "", made.net_burnt, made.burnt_value, made.currency),
            ("net_due_from_partner", "", "", "" if made.net is None else made.net,
             "" if made.net is None else made.currency)):
        writer.writerow([*head, line, count, points, value, currency])
    return text.getvalue()
