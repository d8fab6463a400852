"""One row or record -> the values stored for it. The column layout is resolved once from the
header (which cell feeds which field, through which parser), because at millions of rows the
per-row work is what bounds an import. Type rules live in subscriber_fields.FIELDS, numbers in
phones.to_e164; this module only applies them and names the field a bad value came from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from engage.engine.phones import InvalidNumber, to_e164
from engage.engine.store.schema import SubscriberTag
from engage.engine.subscriber_fields import FIELDS, NUMBER, FieldValueError, SubscriberField

NUMBER_HEADERS = ("msisdn", "number", "phone")
TAG_HEADERS = ("tags", "vas")
TAG_SEPARATOR = ";"
MAX_TAG = SubscriberTag.__table__.c.tag.type.length
CACHE_LIMIT = 20_000  # distinct values remembered per column (cities, plans, dates repeat a lot)
_MISS = object()
# Language codes pick template variants ("ru", not "RU"); imports always stored them lower case.
# (The catalogue has no such rule yet; it belongs there, next to STORED_UPPER.)
STORED_LOWER = {"language"}


class RowError(ValueError):
    """A row (or a whole file) that cannot be imported; the message says which field and why."""


REJECTIONS = (RowError, FieldValueError)


class RowParser:
    """Parses rows laid out as `header` says. `columns` names what parse() returns, in order:
    msisdn, the catalogue fields present, then "attributes" (other columns, as a dict) and "tags"
    (the set joined by ';', as storage takes it) when the header has them. Header names that are
    not catalogue fields only ever become attribute keys, never SQL."""

    def __init__(self, header: Sequence[str], region: str) -> None:
        names = [str(h or "").strip() for h in header]
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
        self._numbers = numbers
        self._fields = [(i, FIELDS[k]) for i, k in enumerate(keys) if k in FIELDS and k != "msisdn"]
        self._converters = [(i, *_cached(f)) for i, f in self._fields]
        tags = [keys.index(h) for h in TAG_HEADERS if h in keys]
        self._tags = tags[0] if tags else None
        used = set(numbers) | {i for i, _ in self._fields} | set(tags)
        self._attributes = [(i, names[i]) for i in range(len(names)) if i not in used and names[i]]
        self.columns: tuple[str, ...] = ("msisdn", *(f.name for _, f in self._fields),
                                         *(("attributes",) if self._attributes else ()),
                                         *(("tags",) if tags else ()))

    def parse(self, cells: Sequence[Any]) -> tuple[Any, ...]:
        """The stored values of one row, or RowError/FieldValueError naming the field and value."""
        if len(cells) != self.width:
            if len(cells) > self.width:
                raise RowError(f"{len(cells)} fields, but the header names {self.width}")
            cells = [*cells, *([None] * (self.width - len(cells)))]
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
            out.append({name: _attribute(cells[i]) for i, name in self._attributes if not _empty(cells[i])})
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
        parse = _decimal(field)
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


def _empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _attribute(raw: Any) -> Any:
    """Attributes are JSON: text stays text, stripped; dates and decimals from Parquet become text."""
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, date | datetime | Decimal):
        return raw.isoformat() if not isinstance(raw, Decimal) else str(raw)
    return raw
