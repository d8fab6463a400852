"""JSON from outside (an /api/v1 body, a CLI argument or @file), refused in one place when no
field could hold it: not UTF-8, not JSON (NaN and Infinity included), nested deeper than any
definition needs, a number Python can parse but no column can store (beyond 64-bit integers, or of
thousands of digits), or a text that PostgreSQL and UTF-8 cannot store (NUL, lone surrogates). The
error names where: "name", "definition.and[0].value", or "body" for the whole."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
MAX_CONTAINERS = 200_000  # 10,000 subscribers with their attributes hold some 20,000
MAX_INT = 2**63 - 1


class BodyError(ValueError):
    """A body refused; the message begins with the field it names."""


def parse_object(raw: bytes | None) -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object."""
    data = parse(raw) if raw else {}
    if not isinstance(data, dict):
        raise BodyError("body: expected a JSON object")
    return data


def parse(raw: bytes) -> Any:
    # a list or object costs Python 56+ bytes for 2 of JSON: counted before any is made
    if raw.count(b"[") + raw.count(b"{") > MAX_CONTAINERS:
        raise BodyError(f"body: more than {MAX_CONTAINERS:,} lists and objects")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"body: not UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_int=_whole)
    except RecursionError:
        raise BodyError(f"body: nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise BodyError(f"body: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    check(data)
    return data


def check_text(field: str, text: str) -> None:
    """Raises BodyError naming ``field`` for a text no column can hold (NUL, lone surrogates)."""
    _check_text(field, text)


def check(data: Any, where: str = "") -> None:
    """Raises BodyError naming the first value that no field could hold."""
    stack: list[tuple[str, Any, int]] = [(where, data, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BodyError(f"{path or 'body'}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            _check_text(path, value)
        elif isinstance(value, _Huge):
            raise BodyError(f"{path or 'body'}: a number of {value.digits} digits is out of range (a whole number "
                            "of at most 19 digits)")
        elif isinstance(value, int) and not isinstance(value, bool):
            if not -MAX_INT - 1 <= value <= MAX_INT:
                raise BodyError(f"{path or 'body'}: {value} is out of range (a whole number of at most 19 digits)")
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                _check_text(f"{path}.{key}" if path else "body: a key", key)
                stack.append((f"{path}.{key}" if path else key, item, depth + 1))
        elif isinstance(value, list):
            for i in range(len(value) - 1, -1, -1):
                stack.append((f"{path}[{i}]" if path else f"body[{i}]", value[i], depth + 1))


def _check_text(path: str, text: str) -> None:
    if "\x00" in text:
        raise BodyError(f"{path or 'body'}: contains a NUL character (\\u0000), which no text may hold")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BodyError(f"{path or 'body'}: contains a lone surrogate (\\u{ord(text[exc.start]):04x}) at "
                        f"character {exc.start + 1}, which is not a character") from None


def _no_constant(name: str) -> Any:
    raise BodyError(f"body: not JSON ({name} is not a JSON number)")


class _Huge:
    """An integer too long to be anything, kept unparsed (Python refuses past 4,300 digits) until
    check() can name its field."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _whole(text: str) -> int | _Huge:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= 20 else _Huge(digits)
