"""Numbers, money, dates and percentages written the way the recipient's language writes them.

"1,234,567.5" reads wrong to a Russian or Uzbek subscriber ("1 234 567,5"), and a date in
another language's order is easy to misread; Babel carries CLDR's rules for every locale, so a
template says `{{ balance | money('UZS') }}` and the variant's language decides the rest.

Two SMS-specific choices:
- Output is made GSM-safe: CLDR separates digit groups with no-break spaces and writes some
  apostrophes and minus signs typographically. None of those is in the GSM 03.38 alphabet, so one
  of them would silently switch a Latin-script message to UCS-2 and more than double its cost.
  They become a plain space, "'" and "-", which read the same on a handset.
- A filter never stops a send: a value it cannot read (text given to `number`, a malformed date)
  is rendered unchanged, because one bad profile value must not fail a whole campaign batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.core import UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent, list_currencies
from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

FALLBACK_LOCALE = "en"
DATE_STYLES = ("short", "medium", "long", "full")

# Characters CLDR uses that GSM 03.38 lacks -> what a handset shows just as well.
_GSM_SAFE = str.maketrans({
    "\u00a0": " ",  # no-break space (group separator in ru, uz, fr...)
    "\u202f": " ",  # narrow no-break space (before AM/PM, fr groups)
    "\u2009": " ",  # thin space
    "\u2007": " ",  # figure space
    "\u2212": "-",  # minus sign
    "\u2011": "-",  # non-breaking hyphen
    "\u2018": "'", "\u2019": "'",  # typographic apostrophes (de-CH groups, some month names)
    "\u02bb": "'", "\u02bc": "'",  # Uzbek o' and g' ("soʻm")
})
_UNREADABLE = (ValueError, TypeError, ArithmeticError, LookupError, AttributeError, UnknownLocaleError)


def gsm_safe(text: str) -> str:
    """Replace the typographic spaces and marks locale data uses with their GSM 03.38 look-alikes."""
    return text.translate(_GSM_SAFE)


def locale_for(language: str | None) -> Locale:
    """The Babel locale of a variant's language ("ru", "uz", "pt-BR"); English when Babel does not
    know it, so a variant in a language without locale data still renders."""
    try:
        return Locale.parse((language or "").strip().replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale.parse(FALLBACK_LOCALE)


def known_currency(code: str) -> bool:
    return code.upper() in list_currencies()


def _lenient(fn: Callable[..., str]) -> Callable[..., Any]:
    """Give back the value untouched when it cannot be formatted (see the module docstring)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value = args[1] if args and isinstance(args[0], Context) else args[0]
        if value is None or isinstance(value, Undefined):
            return value
        try:
            return gsm_safe(fn(*args, **kwargs))
        except _UNREADABLE:
            return value

    return wrapper


def _decimal(value: Any) -> Decimal:
    """A number from a column (int, Decimal, float) or from a custom attribute's text."""
    if isinstance(value, bool):
        raise TypeError("a yes/no value is not a number")
    if isinstance(value, Decimal | int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(str(value))
    elif isinstance(value, str):
        number = Decimal(value.strip())
    else:
        raise TypeError(f"{type(value).__name__} is not a number")
    if not number.is_finite():
        raise ValueError("not a finite number")
    return number


def _with_decimals(pattern: str, decimals: int | None) -> str | None:
    """A CLDR number pattern with exactly `decimals` fraction digits ("#,##0.###" -> "#,##0.00"),
    keeping the locale's grouping and symbols; None keeps the locale's own pattern."""
    if decimals is None:
        return None
    if not 0 <= int(decimals) <= 6:
        raise ValueError("decimals must be 0 to 6")
    fraction = "." + "0" * int(decimals) if decimals else ""
    return ";".join(re.sub(r"(?<=0)(\.[0#]+)?(?![0#,.])", fraction, part, count=1) for part in pattern.split(";"))


def _moment(value: Any) -> date:
    """A date or datetime from a column or an ISO 8601 text ("2024-03-05", "2024-03-05T09:30:00Z")."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{type(value).__name__} is not a date")
    text = value.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _zone(context: Context, tz: str | None) -> ZoneInfo:
    """The zone to show a time in: the one asked for, else the subscriber's own, else UTC."""
    for name in (tz, context.get("timezone")):
        if isinstance(name, str) and name.strip():
            try:
                return ZoneInfo(name.strip())
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    """Stored times are UTC; a naive one is read as UTC, then shown in the recipient's zone."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone)


def filters(locale: Locale) -> dict[str, Callable[..., Any]]:
    """The formatting filters of one locale, to register on that locale's template environment."""

    @_lenient
    def number(value: Any, decimals: int | None = None) -> str:
        pattern = _with_decimals(locale.decimal_formats[None].pattern, decimals)
        return format_decimal(_decimal(value), format=pattern, locale=locale)

    @_lenient
    def money(value: Any, currency: str, decimals: int | None = None) -> str:
        pattern = _with_decimals(locale.currency_formats["standard"].pattern, decimals)
        return format_currency(_decimal(value), str(currency).upper(), format=pattern, locale=locale,
                               currency_digits=decimals is None)

    @_lenient
    def percent(value: Any, decimals: int | None = None) -> str:
        pattern = _with_decimals(locale.percent_formats[None].pattern, decimals)
        return format_percent(_decimal(value), format=pattern, locale=locale)

    @pass_context
    @_lenient
    def date_filter(context: Context, value: Any, style: str = "medium", tz: str | None = None) -> str:
        moment = _moment(value)
        if isinstance(moment, datetime):
            moment = _local(moment, _zone(context, tz)).date()
        return format_date(moment, str(style), locale=locale)

    @pass_context
    @_lenient
    def datetime_filter(context: Context, value: Any, style: str = "medium", tz: str | None = None) -> str:
        moment = _moment(value)
        if not isinstance(moment, datetime):
            return format_date(moment, str(style), locale=locale)  # no time of day to show
        zone = _zone(context, tz)
        return format_datetime(_local(moment, zone), str(style), tzinfo=zone, locale=locale)

    return {"number": number, "money": money, "percent": percent, "date": date_filter,
            "datetime": datetime_filter}


# Filters that read the subscriber's time zone: a template using them needs that column loaded.
ZONE_FILTERS = frozenset({"date", "datetime"})
