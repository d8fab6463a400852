"""One row or record -> the values stored for it. The column layout is resolved once from the
header (which cell feeds which field, through which parser), because at millions of rows the
per-row work is what bounds an import. Type rules live in subscriber_fields.FIELDS, numbers in
phones.to_e164; this module only applies them and names the field a bad value came from."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, Integer, Numeric

from engage.engine.phones import InvalidNumber, to_e164
from engage.engine.store.schema import SubscriberTag
from engage.engine.subscriber_fields import FIELDS, INTEGER, NUMBER, FieldValueError, SubscriberField

NUMBER_HEADERS = ("msisdn", "number", "phone")
TAG_HEADERS = ("tags", "vas")
TAG_SEPARATOR = ";"
MAX_TAG = SubscriberTag.__table__.c.tag.type.length
CACHE_LIMIT = 20_000  # distinct values remembered per column (cities, plans, dates repeat a lot)
_MISS = object()
# Language codes pick template variants ("ru", not "RU"); imports always stored them lower case.
# (The catalogue has no such rule yet; it belongs there, next to STORED_UPPER.)
STORED_LOWER = {"language"}
# Longest value of a catalogue field (whose own limits are shorter still) and of an attribute or tag
# cell, checked before parsing, so that a runaway value is refused without being echoed back whole.
MAX_FIELD = 1_000
MAX_ATTRIBUTE = 10_000
# What no stored text may hold: NUL (PostgreSQL refuses it, and the whole COPY with it) and the other
# C0 controls but tab (line breaks included: a subscriber value is one line), DEL, the C1 controls
# (a cp1252 file read as latin-1), and lone surrogates: a JSON "\ud800", or a byte the file's
# encoding could not decode, which csv_source hands on as U+DC00 + the byte.
UNSAFE_TEXT = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")
UNDECODED = range(0xDC00, 0xDD00)


class RowError(ValueError):
    """A row (or a whole file) that cannot be imported; the message says which field and why."""


REJECTIONS = (RowError, FieldValueError)


def text_problem(text: str, limit: int, encoding: str | None = None) -> str | None:
    """Why `text` cannot be stored as a value, or None. `encoding`: the file's, when the text was
    decoded from one (a lone surrogate is then a byte it could not decode)."""
    if len(text) > limit:
        return f"{len(text):,} characters, more than the {limit:,} a value may have"
    bad = UNSAFE_TEXT.search(text)
    if bad is None:
        return None
    code, at = ord(bad.group()), bad.start() + 1
    if code in (0x0A, 0x0D):
        return f"a line break at character {at}"
    if encoding and code in UNDECODED:
        advice = ("save the file as UTF-8 or give its encoding, e.g. cp1251 or latin-1 (--encoding, the import "
                  "form's text encoding, or ?encoding= in the API)"
                  if encoding.lower().replace("_", "-") in ("utf-8", "utf-8-sig")
                  else "is that the file's encoding?")
        return f"not {encoding} (byte 0x{code - 0xDC00:02X} at character {at}); {advice}"
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate (U+{code:04X}) at character {at}, which is not text"
    return f"a control character (U+{code:04X}) at character {at}"


def texts(value: Any) -> Iterator[str]:
    """The text inside a value: itself, or the keys and values of a JSON or Parquet list or object."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from texts(key)
            yield from texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from texts(item)


def check_texts(cells: Sequence[Any], names: Sequence[str], limits: Sequence[int],
                encoding: str | None = None) -> None:
    """RowError naming the first cell whose text cannot be stored. One join and one regular
    expression search for a whole CSV row; the cells one by one only when that finds something."""
    nested = False
    try:
        joined = "\t".join(cells)
    except TypeError:  # Parquet and JSON values, padding for a short row
        joined = "\t".join([c for c in cells if type(c) is str])
        nested = any(type(c) in (list, tuple, dict) for c in cells)
    if not nested and len(joined) <= MAX_FIELD and UNSAFE_TEXT.search(joined) is None:
        return
    for i, cell in enumerate(cells):
        for text in texts(cell):
            problem = text_problem(text, limits[i] if i < len(limits) else MAX_ATTRIBUTE, encoding)
            if problem:
                name = names[i] if i < len(names) and names[i] else f"field {i + 1}"
                raise RowError(f"{name}: {problem}")


class RowParser:
    """Parses rows laid out as `header` says. `columns` names what parse() returns, in order:
    msisdn, the catalogue fields present, then "attributes" (other columns, as a dict) and "tags"
    (the set joined by ';', as storage takes it) when the header has them. Header names that are
    not catalogue fields only ever become attribute keys, never SQL."""

    def __init__(self, header: Sequence[str], region: str, *, encoding: str | None = None) -> None:
        names = [str(h or "").strip() for h in header]
        for name in names:
            problem = text_problem(name, MAX_FIELD, encoding)
            if problem:
                raise RowError(f"the header: {name[:40]!r}: {problem}")
        keys = [n.lower() for n in names]
        seen = [k for k in keys if k]
        if len(set(seen)) != len(seen):
            twice = sorted({k for k in seen if seen.count(k) > 1})
            raise RowError(f"the header names {', '.join(twice)} more than once")
        numbers = [keys.index(h) for h in NUMBER_HEADERS if h in keys]
        if not numbers:
            raise RowError(f"the header has no msisdn column (one of {', '.join(NUMBER_HEADERS)})")
        self.width = len(names)
        self.region = region
        self.encoding = encoding
        self._names = names
        self._numbers = numbers
        self._fields = [(i, FIELDS[k]) for i, k in enumerate(keys) if k in FIELDS and k != "msisdn"]
        self._converters = [(i, *_cached(f)) for i, f in self._fields]
        tags = [keys.index(h) for h in TAG_HEADERS if h in keys]
        self._tags = tags[0] if tags else None
        used = set(numbers) | {i for i, _ in self._fields} | set(tags)
        self._attributes = [(i, names[i]) for i in range(len(names)) if i not in used and names[i]]
        catalogue = set(numbers) | {i for i, _ in self._fields}
        self._limits = [MAX_FIELD if i in catalogue else MAX_ATTRIBUTE for i in range(len(names))]
        self.columns: tuple[str, ...] = ("msisdn", *(f.name for _, f in self._fields),
                                         *(("attributes",) if self._attributes else ()),
                                         *(("tags",) if tags else ()))

    def parse(self, cells: Sequence[Any]) -> tuple[Any, ...]:
        """The stored values of one row, or RowError/FieldValueError naming the field and value."""
        if len(cells) != self.width:
            if len(cells) > self.width:
                raise RowError(f"{len(cells)} fields, but the header names {self.width}")
            cells = [*cells, *([None] * (self.width - len(cells)))]
        check_texts(cells, self._names, self._limits, self.encoding)
        out = [self._number(cells)]
        append = out.append
        try:
            for i, remembered, convert in self._converters:  # a dict lookup per cell, a call per new value
                raw = cells[i]
                value = remembered(raw, _MISS)
                append(convert(raw) if value is _MISS else value)
        except TypeError:  # a list or object from JSON or Parquet, which no dict can look up
            out[1:] = [convert(cells[i]) for i, _, convert in self._converters]
        if self._attributes:
            out.append({name: _attribute(cells[i], name) for i, name in self._attributes if not _empty(cells[i])})
        if self._tags is not None:
            out.append(parse_tags(cells[self._tags]))
        return tuple(out)

    def parse_dict(self, cells: Sequence[Any]) -> dict[str, Any]:
        return dict(zip(self.columns, self.parse(cells), strict=True))

    def _number(self, cells: Sequence[Any]) -> str:
        for i in self._numbers:  # the first number column with a value
            raw = cells[i]
            if _empty(raw):
                continue
            try:
                return to_e164(str(raw), self.region)
            except InvalidNumber as exc:
                raise RowError(f"msisdn: {exc}") from None
        raise RowError("msisdn: missing")


def parse_tags(raw: Any) -> str:
    """" sport;news;sport" (or a list, from Parquet or JSON) -> "sport;news"; "" means no tags."""
    if _empty(raw):
        return ""
    items = raw.split(TAG_SEPARATOR) if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise RowError(f"tags: {raw!r} is not a list of tags separated by '{TAG_SEPARATOR}'")
    tags: dict[str, None] = {}
    for item in items:
        tag = str(item).strip() if item is not None else ""
        if len(tag) > MAX_TAG:
            raise RowError(f"tags: {tag!r} is longer than {MAX_TAG} characters")
        if TAG_SEPARATOR in tag:
            raise RowError(f"tags: {tag!r} contains '{TAG_SEPARATOR}'")
        if tag:
            tags[tag] = None
    return TAG_SEPARATOR.join(tags)


def _cached(field: SubscriberField) -> tuple[Callable[[Any, Any], Any], Callable[[Any], Any]]:
    """field.parse, remembering what it made of text values seen before: same rules, far fewer
    calls. Returns the memory's lookup (for values seen before) and the converter (for any value)."""
    cache: dict[Any, Any] = {}
    if field.name in STORED_LOWER:
        def parse(raw: Any) -> Any:
            value = field.parse(raw)
            return value.lower() if isinstance(value, str) else value
    elif field.type == NUMBER:
        parse = _bounded(field, _decimal(field))
    elif field.type == INTEGER:
        parse = _bounded(field, field.parse)
    else:
        parse = field.parse

    def convert(raw: Any) -> Any:
        if type(raw) is not str:  # Parquet and JSON values: True == 1 == 1.0 would share a cache entry
            return parse(raw)
        value = cache.get(raw, _MISS)
        if value is _MISS:
            value = parse(raw)
            if len(cache) < CACHE_LIMIT:
                cache[raw] = value
        return value

    return cache.get, convert


def _decimal(field: SubscriberField) -> Callable[[Any], Any]:
    """field.parse for money and other decimals, whose values rarely repeat (so the cache seldom
    helps): Decimal reads the text directly, ignoring the same surrounding spaces that parse strips;
    anything it refuses, and infinities, go through field.parse for the same error message."""
    def parse(raw: Any) -> Any:
        if type(raw) is str:
            try:
                value = Decimal(raw)
            except InvalidOperation:
                return field.parse(raw)
            if value.is_finite():
                return value
        return field.parse(raw)

    return parse


def _bounded(field: SubscriberField, parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """parse, refusing a number its column cannot hold: the database would refuse it, and with it
    the whole chunk of rows it came in."""
    kind = field.column.type
    step = None
    if isinstance(kind, Numeric) and kind.precision:
        limit = Decimal(10) ** (kind.precision - (kind.scale or 0))
        what = f"less than {limit:,} in magnitude"
        step = Decimal(1).scaleb(-(kind.scale or 0))  # the column rounds to it: 0.01 for numeric(14, 2)
    elif isinstance(kind, Integer):
        bits = 63 if isinstance(kind, BigInteger) else 31
        limit, what = 2**bits, f"a whole number between {-2**bits:,} and {2**bits - 1:,}"
    else:
        return parse

    def bounded(raw: Any) -> Any:
        value = parse(raw)
        if value is not None and step is not None:  # as stored: 999999999999.999 rounds past the limit,
            try:  # and 1e-20000 to 0 (psycopg's binary COPY refuses its 20,000 digits)
                value = Decimal(value).quantize(step, ROUND_HALF_UP)
            except InvalidOperation:  # more digits than the context holds: far past any limit
                raise FieldValueError(f"{field.name}: {str(raw)[:40]!r} is too large (it must be {what})") from None
        if value is not None and not (-limit < value < limit if step is not None else -limit <= value < limit):
            raise FieldValueError(f"{field.name}: {str(raw)[:40]!r} is too large (it must be {what})")
        return value

    return bounded


def _empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _attribute(raw: Any, name: str) -> Any:
    """Attributes are JSON: text stays text, stripped; dates, times and decimals from Parquet become
    text, also inside lists and objects. What JSON cannot hold (NaN, bytes) is the row's RowError,
    not the whole chunk's failure when the writer serialises it."""
    if isinstance(raw, str):
        return raw.strip()
    if raw is None or isinstance(raw, bool | int):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise RowError(f"{name}: {raw} is not a number JSON can hold")
        return raw
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            raise RowError(f"{name}: {raw} is not a number JSON can hold")
        return str(raw)
    if isinstance(raw, date | datetime | time):
        return raw.isoformat()
    if isinstance(raw, list | tuple):  # text inside is kept as given
        return [item if isinstance(item, str) else _attribute(item, name) for item in raw]
    if isinstance(raw, dict):
        return {str(key): item if isinstance(item, str) else _attribute(item, name) for key, item in raw.items()}
    if isinstance(raw, bytes | bytearray):
        raise RowError(f"{name}: binary data, not text")
    raise RowError(f"{name}: a {type(raw).__name__}, which an attribute cannot hold")
