"""A loyalty programme: several may coexist, each with its members, currency and point value (what
a point is worth to the operator: the liability is outstanding points times it) and how long earned
points live."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, insert, select

from engage.engine.store.schema import LoyaltyProgramme

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class ProgrammeError(ValueError):
    """Names the field that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Programme:
    id: int
    code: str
    name: str
    currency: str
    point_value: Decimal
    points_valid_days: int | None

    def expiry_of(self, earned_at: datetime) -> datetime | None:
        """When points earned at `earned_at` expire (None: never)."""
        return None if self.points_valid_days is None else earned_at + timedelta(days=self.points_valid_days)


def create(conn: Connection, code: str, name: str, *, currency: str = "USD", point_value: Any = "0.01",
           points_valid_days: int | None = 365) -> Programme:
    code = code.strip().lower()
    if not CODE.match(code):
        raise ProgrammeError("code", "1 to 32 lower-case letters, digits, _ or -, starting with a letter or digit")
    if not name.strip():
        raise ProgrammeError("name", "a programme needs a name")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ProgrammeError("currency", f"{currency!r} is not an ISO 4217 code such as USD")
    try:
        value = Decimal(str(point_value))
    except InvalidOperation:
        raise ProgrammeError("point_value", f"{point_value!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ProgrammeError("point_value", "a point's value is zero or more")
    if points_valid_days is not None and not 1 <= points_valid_days <= 36_500:
        raise ProgrammeError("points_valid_days", "points live 1 to 36,500 days, or forever (none)")
    if conn.execute(select(LoyaltyProgramme.id).where(LoyaltyProgramme.code == code)).first():
        raise ProgrammeError("code", f"a programme {code!r} exists already")
    pid = conn.execute(insert(LoyaltyProgramme).values(
        code=code, name=name.strip(), currency=currency, point_value=value, points_valid_days=points_valid_days,
        settings={}).returning(LoyaltyProgramme.id)).scalar_one()
    return get(conn, pid)


def get(conn: Connection, programme: int | str) -> Programme:
    """By id or code; LookupError when there is none."""
    column = LoyaltyProgramme.id if isinstance(programme, int) else LoyaltyProgramme.code
    row = conn.execute(select(LoyaltyProgramme).where(column == programme)).first()
    if row is None:
        raise LookupError(f"no loyalty programme {programme!r}")
    return Programme(row.id, row.code, row.name, row.currency, Decimal(row.point_value), row.points_valid_days)
