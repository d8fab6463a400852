"""The subscriber profile, field by field: its type, the values it allows, and how a text value
(a CSV cell, a JSON string) becomes one. Import validates with it; segment criteria pick their
operators by it; one list, so a new field is added once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Column

from engage.engine.store.schema import Subscriber

TEXT, NUMBER, INTEGER, DATE, DATETIME, BOOL, CHOICE = "text", "number", "integer", "date", "datetime", "bool", "choice"
TRUE_WORDS = {"1", "true", "yes", "y", "t"}
FALSE_WORDS = {"0", "false", "no", "n", "f"}


class FieldValueError(ValueError):
    """A value a field cannot hold; the message names the field and the value."""


@dataclass(frozen=True)
class SubscriberField:
    name: str
    type: str
    choices: tuple[str, ...] = ()
    max_length: int | None = None

    @property
    def label(self) -> str:
        """The field as a person names it: "First name", never first_name or FIRST_NAME."""
        return LABELS.get(self.name) or _as_words(self.name)

    def words(self, value: Any) -> Any:
        """A stored value as a person reads it: yes/no, a choice by its name; others as they are."""
        if self.type == BOOL and isinstance(value, bool):
            return "Yes" if value else "No"
        if self.type == CHOICE and isinstance(value, str):
            return CHOICE_WORDS.get(self.name, {}).get(value.lower(), value)
        return value

    @property
    def column(self) -> Column:
        return Subscriber.__table__.c[self.name]

    def parse(self, raw: Any) -> Any:
        """A text or JSON value -> the stored value; None for an empty one."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        try:
            value = _PARSERS[self.type](self, raw.strip() if isinstance(raw, str) else raw)
        except (ValueError, TypeError, InvalidOperation, ArithmeticError) as exc:
            raise FieldValueError(f"{self.name}: {raw!r} is not {_EXPECTED[self.type]}"
                                  f"{' (' + str(exc) + ')' if isinstance(exc, FieldValueError) else ''}") from None
        if self.type == TEXT and self.max_length and len(value) > self.max_length:
            raise FieldValueError(f"{self.name}: longer than {self.max_length} characters")
        return value.upper() if self.name in STORED_UPPER else value


def _text(f: SubscriberField, raw: Any) -> str:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise TypeError
    return str(raw)


def _choice(f: SubscriberField, raw: Any) -> str:
    value = str(raw).strip().lower()
    if value not in f.choices:
        raise ValueError
    return value


def _number(f: SubscriberField, raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise TypeError
    value = Decimal(str(raw))
    if not value.is_finite():
        raise ValueError
    return value


def _integer(f: SubscriberField, raw: Any) -> int:
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise TypeError
    return int(str(raw)) if not isinstance(raw, float) else int(raw)


def _date(f: SubscriberField, raw: Any) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    return date.fromisoformat(str(raw)[:10]) if len(str(raw)) >= 10 else date.fromisoformat(str(raw))


def _datetime(f: SubscriberField, raw: Any) -> datetime:
    value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _bool(f: SubscriberField, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError


_PARSERS = {TEXT: _text, CHOICE: _choice, NUMBER: _number, INTEGER: _integer, DATE: _date, DATETIME: _datetime,
            BOOL: _bool}
_EXPECTED = {TEXT: "text", CHOICE: "one of the allowed values", NUMBER: "a number", INTEGER: "a whole number",
             DATE: "a date (YYYY-MM-DD)", DATETIME: "a date and time (ISO 8601)", BOOL: "yes/no (true/false, 1/0)"}

FIELDS: dict[str, SubscriberField] = {f.name: f for f in (
    SubscriberField("msisdn", TEXT, max_length=16),
    SubscriberField("first_name", TEXT, max_length=100),
    SubscriberField("last_name", TEXT, max_length=100),
    SubscriberField("language", TEXT, max_length=8),
    SubscriberField("gender", CHOICE, choices=("m", "f", "x")),
    SubscriberField("birth_date", DATE),
    SubscriberField("region", TEXT, max_length=100),
    SubscriberField("city", TEXT, max_length=100),
    SubscriberField("branch", TEXT, max_length=64),
    SubscriberField("timezone", TEXT, max_length=64),
    SubscriberField("balance", NUMBER),
    SubscriberField("network", TEXT, max_length=7),
    SubscriberField("contract_type", CHOICE, choices=("prepaid", "postpaid", "hybrid")),
    SubscriberField("tariff_plan", TEXT, max_length=64),
    SubscriberField("device_os", TEXT, max_length=32),
    SubscriberField("device_model", TEXT, max_length=64),
    SubscriberField("activation_date", DATE),
    SubscriberField("last_activity_at", DATETIME),
    SubscriberField("last_recharge_at", DATETIME),
    SubscriberField("last_recharge_amount", NUMBER),
    SubscriberField("arpu", NUMBER),
    SubscriberField("data_mb_month", INTEGER),
    SubscriberField("voice_min_month", INTEGER),
    SubscriberField("sms_month", INTEGER),
    SubscriberField("roaming", BOOL),
    SubscriberField("loyalty_tier", TEXT, max_length=32),
    SubscriberField("loyalty_points", INTEGER),
)}

# gender is stored upper case (M/F/X), as it always was
STORED_UPPER = {"gender"}

LABELS = {
    "msisdn": "Phone number", "birth_date": "Date of birth", "timezone": "Time zone",
    "network": "Network (MCC-MNC)", "device_os": "Phone's operating system", "device_model": "Phone model",
    "activation_date": "Active since", "last_activity_at": "Last active", "last_recharge_at": "Last top-up",
    "last_recharge_amount": "Last top-up amount", "arpu": "Average revenue per user (ARPU)",
    "data_mb_month": "Data this month (MB)", "voice_min_month": "Calls this month (minutes)",
    "sms_month": "SMS this month",
}
CHOICE_WORDS = {
    "gender": {"m": "Male", "f": "Female", "x": "Other"},
    "contract_type": {"prepaid": "Prepaid", "postpaid": "Postpaid", "hybrid": "Hybrid"},
}


def label_of(key: str) -> str:
    """A field's label, or a custom attribute's name (kept as the file's header had it) as words:
    "favourite_shop" -> "Favourite shop"."""
    return FIELDS[key].label if key in FIELDS else _as_words(key)


def _as_words(key: str) -> str:
    words = " ".join(str(key).replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:].lower() if words else str(key)
