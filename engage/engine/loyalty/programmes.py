"""A loyalty programme: several may coexist, each with its members, currency and point value (what
a point is worth to the operator: the liability is outstanding points times it) and how long earned
points live. Its settings (a JSON object) also hold what the back office sets for the parts that read
them: SETTINGS names each with its default, and `Programme.setting` gives the value in force, so a
programme made before a setting existed reads its default."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy import update as update_rows

from engage.engine.loyalty.consent_codes import DEFAULT_SENDER, SENDER_SETTING
from engage.engine.sender_ids import SenderIdError, parse_sender
from engage.engine.store.schema import LoyaltyProgramme, Segment

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
ADJUST_APPROVAL_ABOVE = "adjust_approval_above"  # points: an adjustment above it waits for a second person
EXPIRY_NOTICE_DAYS = "expiry_notice_days"  # days before points expire that the member is texted; 0: never
ENROL_SEGMENT = "enrol_segment"  # a saved segment whose subscribers are enrolled by themselves; None: nobody
SETTINGS: dict[str, Any] = {ADJUST_APPROVAL_ABOVE: 1000, EXPIRY_NOTICE_DAYS: 7, SENDER_SETTING: DEFAULT_SENDER,
                            ENROL_SEGMENT: None}
COLUMNS = ("name", "point_value", "points_valid_days")  # what update() changes besides SETTINGS


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
    settings: dict[str, Any] = field(default_factory=dict, compare=False)

    def setting(self, key: str) -> Any:
        """A setting of SETTINGS: the programme's own, else its default."""
        return self.settings.get(key, SETTINGS[key])

    def expiry_of(self, earned_at: datetime) -> datetime | None:
        """When points earned at `earned_at` expire (None: never)."""
        return None if self.points_valid_days is None else earned_at + timedelta(days=self.points_valid_days)


def create(conn: Connection, code: str, name: str, *, currency: str = "USD", point_value: Any = "0.01",
           points_valid_days: int | None = 365) -> Programme:
    code = code.strip().lower()
    if not CODE.match(code):
        raise ProgrammeError("code", "1 to 32 lower-case letters, digits, _ or -, starting with a letter or digit")
    checked_name = _name(name)
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ProgrammeError("currency", f"{currency!r} is not an ISO 4217 code such as USD")
    values = {"name": checked_name, "point_value": _point_value(point_value),
              "points_valid_days": _valid_days(points_valid_days)}
    if conn.execute(select(LoyaltyProgramme.id).where(LoyaltyProgramme.code == code)).first():
        raise ProgrammeError("code", f"a programme {code!r} exists already")
    pid = conn.execute(insert(LoyaltyProgramme).values(code=code, currency=currency, settings={}, **values)
                       .returning(LoyaltyProgramme.id)).scalar_one()
    return get(conn, pid)


def update(conn: Connection, programme_id: int, changes: dict[str, Any], *, region: str = "UZ") -> Programme:
    """Change a programme's name, point value, points' life and SETTINGS, each checked first (the
    first wrong one named, nothing changed); its other settings (levels...) are kept as they are.
    The code and currency do not change: entries, partners and statements are kept in them."""
    unknown = sorted(set(changes) - set(COLUMNS) - set(SETTINGS))
    if unknown:
        raise ProgrammeError(unknown[0], f"not a programme setting; they are {', '.join([*COLUMNS, *SETTINGS])}")
    checks = {"name": _name, "point_value": _point_value, "points_valid_days": _valid_days,
              ADJUST_APPROVAL_ABOVE: lambda v: _whole(ADJUST_APPROVAL_ABOVE, v, 0, 10**9),
              EXPIRY_NOTICE_DAYS: lambda v: _whole(EXPIRY_NOTICE_DAYS, v, 0, 365),
              SENDER_SETTING: lambda v: _sender(v, region), ENROL_SEGMENT: lambda v: _segment(conn, v)}
    checked = {key: checks[key](value) for key, value in changes.items()}
    row = conn.execute(select(LoyaltyProgramme.settings).where(LoyaltyProgramme.id == programme_id)
                       .with_for_update()).first()  # another change of its settings waits: none is lost
    if row is None:
        raise LookupError(f"no loyalty programme {programme_id!r}")
    settings = {**(row.settings or {}), **{k: v for k, v in checked.items() if k in SETTINGS}}
    conn.execute(update_rows(LoyaltyProgramme).where(LoyaltyProgramme.id == programme_id).values(
        settings=settings, **{k: v for k, v in checked.items() if k in COLUMNS}))
    return get(conn, programme_id)


def described(programme: Programme) -> dict[str, Any]:
    """What update() changes, as the audit log keeps it: before and after are two of these."""
    return {"name": programme.name, "point_value": str(programme.point_value),
            "points_valid_days": programme.points_valid_days, **{k: programme.setting(k) for k in SETTINGS}}


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ProgrammeError("name", "a programme needs a name")
    if len(name.strip()) > 100:
        raise ProgrammeError("name", "at most 100 characters")
    return name.strip()


def _point_value(point_value: Any) -> Decimal:
    try:
        value = Decimal(str(point_value).strip())
    except InvalidOperation:
        raise ProgrammeError("point_value", f"{point_value!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ProgrammeError("point_value", "a point's value is zero or more")
    if value >= 10**8 or value != value.quantize(Decimal("0.000001")):
        raise ProgrammeError("point_value", "below 100,000,000 with at most 6 decimals")
    return value


def _valid_days(days: Any) -> int | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36_500:
        raise ProgrammeError("points_valid_days", "points live 1 to 36,500 days, or forever (none)")
    return days


def _whole(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProgrammeError(key, f"a whole number from {low:,} to {high:,}")
    return value


def _segment(conn: Connection, value: Any) -> int | None:
    if value is None:
        return None
    segment_id = _whole(ENROL_SEGMENT, value, 1, 2**31 - 1)
    if conn.execute(select(Segment.id).where(Segment.id == segment_id)).first() is None:
        raise ProgrammeError(ENROL_SEGMENT, f"there is no saved segment {segment_id}")
    return segment_id


def _sender(value: Any, region: str) -> str:
    try:
        return parse_sender(value if isinstance(value, str) else "", region=region).value
    except SenderIdError as exc:
        raise ProgrammeError(SENDER_SETTING, str(exc)) from None


def get(conn: Connection, programme: int | str) -> Programme:
    """By id or code; LookupError when there is none."""
    column = LoyaltyProgramme.id if isinstance(programme, int) else LoyaltyProgramme.code
    row = conn.execute(select(LoyaltyProgramme).where(column == programme)).first()
    if row is None:
        raise LookupError(f"no loyalty programme {programme!r}")
    return Programme(row.id, row.code, row.name, row.currency, Decimal(row.point_value), row.points_valid_days,
                     dict(row.settings or {}))
