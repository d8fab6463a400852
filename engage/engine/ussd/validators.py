"""What an input screen accepts: a registry of small validators, each with the check of its
parameters at save time and the reading of a subscriber's answer at each hop.

    validate: digits                       # or {kind: digits, min_length: 4, max_length: 10}
    validate: {kind: amount, min: 1000, max: 500000, decimals: 0}
    validate: pin                          # 4 to 6 digits (or {kind: pin, length: 4}); never logged or kept
    validate: phone                        # any way people write a number -> E.164
    validate: {kind: date, past: true}     # 17.05.1990, 17/05/1990, 1990-05-17, 17051990 -> 1990-05-17
    validate: {kind: regex, pattern: "[A-Z]{2}[0-9]{6}"}
    validate: text                         # anything not empty, at most max_length (default 100)

A refused answer raises Invalid with why, in the subscriber's language, so the screen can say it
and ask again."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from engage.engine.phones import InvalidNumber, to_e164

Check = Callable[[dict[str, Any]], str | None]
Parse = Callable[[str, dict[str, Any], "Reading"], Any]
MAX_PATTERN = 200


class Invalid(ValueError):  # noqa: N818 - what an answer is, not an error of the program
    """An answer the input screen does not accept: `reason` is said to the subscriber."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Reading:
    """What reading an answer may need besides the answer: the subscriber's language, the region
    phone numbers are read in."""

    language: str
    region: str


@dataclass(frozen=True)
class Validator:
    kind: str
    check: Check
    parse: Parse
    secret: bool = False  # the answer is masked in events and never kept past its hop
    sample: Any = "1"  # a plausible value, for rendering the menu's texts at save time


VALIDATORS: dict[str, Validator] = {}

_SAID: dict[str, dict[str, str]] = {
    "en": {"digits": "Enter digits only.", "length": "Enter {min} to {max} digits.",
           "amount": "Enter an amount from {min} to {max}.", "number": "Enter a number.",
           "pin": "Enter a PIN of {min} to {max} digits.", "phone": "Enter a valid phone number.",
           "date": "Enter a date as DD.MM.YYYY.", "past": "Enter a date in the past.",
           "future": "Enter a date in the future.", "regex": "Invalid format.", "text": "Enter some text.",
           "long": "Enter at most {max} characters."},
    "ru": {"digits": "Введите только цифры.", "length": "Введите от {min} до {max} цифр.",
           "amount": "Введите сумму от {min} до {max}.", "number": "Введите число.",
           "pin": "Введите PIN из {min}-{max} цифр.", "phone": "Введите правильный номер телефона.",
           "date": "Введите дату в виде ДД.ММ.ГГГГ.", "past": "Введите прошедшую дату.",
           "future": "Введите будущую дату.", "regex": "Неверный формат.", "text": "Введите текст.",
           "long": "Не более {max} символов."},
}


def said(key: str, reading: Reading, **values: Any) -> Invalid:
    texts = _SAID.get(reading.language) or _SAID.get(reading.language.split("-")[0]) or _SAID["en"]
    return Invalid(texts[key].format(**values))


def validator(kind: str, check: Check, *, secret: bool = False, sample: Any = "1") -> Callable[[Parse], Parse]:
    def register(fn: Parse) -> Parse:
        VALIDATORS[kind] = Validator(kind, check, fn, secret, sample)
        return fn
    return register


def _allowed(params: dict[str, Any], *names: str) -> str | None:
    unknown = sorted(set(params) - {"kind", *names})
    if unknown:
        return f"unknown parameter {unknown[0]!r} (it takes {', '.join(names) or 'none'})"
    return None


def _whole(params: dict[str, Any], name: str, low: int, high: int) -> str | None:
    value = params.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high):
        return f"{name}: a whole number from {low} to {high}"
    return None


def _ordered(params: dict[str, Any], low: str, high: str) -> str | None:
    a, b = params.get(low), params.get(high)
    if a is not None and b is not None and a > b:
        return f"{low} ({a}) is above {high} ({b})"
    return None


def _check_digits(params: dict[str, Any]) -> str | None:
    return (_allowed(params, "min_length", "max_length") or _whole(params, "min_length", 1, 64)
            or _whole(params, "max_length", 1, 64) or _ordered(params, "min_length", "max_length"))


@validator("digits", _check_digits, sample="12345")
def digits(text: str, params: dict[str, Any], reading: Reading) -> str:
    low, high = params.get("min_length", 1), params.get("max_length", 64)
    if not (text.isascii() and text.isdigit()):
        raise said("digits", reading)
    if not low <= len(text) <= high:
        raise said("length", reading, min=low, max=high)
    return text


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _check_amount(params: dict[str, Any]) -> str | None:
    problem = _allowed(params, "min", "max", "decimals") or _whole(params, "decimals", 0, 6)
    if problem:
        return problem
    for name in ("min", "max"):
        if name in params and _number(params[name]) is None:
            return f"{name}: a number"
    if "min" in params and "max" in params and _number(params["min"]) > _number(params["max"]):  # type: ignore[operator]
        return f"min ({params['min']}) is above max ({params['max']})"
    return None


@validator("amount", _check_amount, sample="1000")
def amount(text: str, params: dict[str, Any], reading: Reading) -> str:
    """An amount of money or units, "1500" or "1500.50" (a comma works too); kept as its text."""
    low, high = _number(params.get("min")), _number(params.get("max"))
    decimals = params.get("decimals", 0)
    cleaned = text.replace(" ", "").replace(",", ".")
    if not re.fullmatch(r"\d{1,15}(?:\.\d{1,6})?", cleaned):
        raise said("number", reading)
    value = Decimal(cleaned)
    if -value.as_tuple().exponent > decimals:  # type: ignore[operator]
        raise said("number", reading)
    if (low is not None and value < low) or (high is not None and value > high):
        raise said("amount", reading, min=low if low is not None else 0, max=high if high is not None else "-")
    return str(value)


def _check_pin(params: dict[str, Any]) -> str | None:
    return (_allowed(params, "length", "min_length", "max_length") or _whole(params, "length", 4, 6)
            or _whole(params, "min_length", 4, 6) or _whole(params, "max_length", 4, 6)
            or _ordered(params, "min_length", "max_length"))


@validator("pin", _check_pin, secret=True, sample="1234")
def pin(text: str, params: dict[str, Any], reading: Reading) -> str:
    low = params.get("length", params.get("min_length", 4))
    high = params.get("length", params.get("max_length", 6))
    if not (text.isascii() and text.isdigit() and low <= len(text) <= high):
        raise said("pin", reading, min=low, max=high)
    return text


def _check_phone(params: dict[str, Any]) -> str | None:
    problem = _allowed(params, "region")
    if problem:
        return problem
    region = params.get("region")
    if region is not None and not (isinstance(region, str) and re.fullmatch(r"[A-Z]{2}", region)):
        return "region: a two-letter country code, e.g. UZ"
    return None


@validator("phone", _check_phone, sample="+998901234567")
def phone(text: str, params: dict[str, Any], reading: Reading) -> str:
    try:
        return to_e164(text, params.get("region") or reading.region)
    except InvalidNumber:
        raise said("phone", reading) from None


DATE_FORMATS = ("%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d%m%Y")


def _check_date(params: dict[str, Any]) -> str | None:
    problem = _allowed(params, "past", "future", "formats")
    if problem:
        return problem
    for name in ("past", "future"):
        if name in params and not isinstance(params[name], bool):
            return f"{name}: true or false"
    if params.get("past") and params.get("future"):
        return "past and future cannot both be true"
    formats = params.get("formats")
    if formats is not None and not (isinstance(formats, list) and formats
                                    and all(isinstance(f, str) and "%" in f for f in formats)):
        return "formats: a list of strftime formats, e.g. ['%d.%m.%Y']"
    return None


@validator("date", _check_date, sample="1990-05-17")
def date_(text: str, params: dict[str, Any], reading: Reading) -> str:
    """A date as people type it (day first), kept as ISO 8601 (YYYY-MM-DD)."""
    found: date | None = None
    for fmt in params.get("formats") or DATE_FORMATS:
        try:
            found = datetime.strptime(text, fmt).date()
            break
        except ValueError:
            continue
    if found is None or found.year < 1900:
        raise said("date", reading)
    today = datetime.now(UTC).date()
    if params.get("past") and found >= today:
        raise said("past", reading)
    if params.get("future") and found <= today:
        raise said("future", reading)
    return found.isoformat()


def _check_regex(params: dict[str, Any]) -> str | None:
    problem = _allowed(params, "pattern")
    if problem:
        return problem
    pattern = params.get("pattern")
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN:
        return f"pattern: a regular expression of 1 to {MAX_PATTERN} characters"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"pattern: {exc}"
    return None


@validator("regex", _check_regex, sample="AB123456")
def regex(text: str, params: dict[str, Any], reading: Reading) -> str:
    """The whole answer matches the pattern (an answer is at most 182 characters: no pattern runs long)."""
    if re.fullmatch(params["pattern"], text) is None:
        raise said("regex", reading)
    return text


def _check_text(params: dict[str, Any]) -> str | None:
    return _allowed(params, "max_length") or _whole(params, "max_length", 1, 182)


@validator("text", _check_text, sample="Sample")
def text_(text: str, params: dict[str, Any], reading: Reading) -> str:
    high = params.get("max_length", 100)
    if not text:
        raise said("text", reading)
    if len(text) > high:
        raise said("long", reading, max=high)
    return text
