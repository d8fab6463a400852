"""Finding subscribers for the people who answer for them: by number (whole, or the digits someone
remembers) or by one profile field, within the asker's branch, a page at a time.

Numbers are personal data: whoever may not see them gets them masked here, before anything leaves
the engine, and may look a number up only whole. Searching by part of a number would let them
uncover the masked digits one guess at a time. A page is one query, keyset-paginated by id (a
deep page costs what the first does), with every value bound as a parameter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, select

from engage.engine.consent import opted_out_channels
from engage.engine.phones import InvalidNumber, mask, to_e164
from engage.engine.store.schema import Subscriber, SubscriberTag
from engage.engine.store.text_case import lowered
from engage.engine.store.time_budget import OverBudget, budget
from engage.engine.subscriber_fields import DATETIME, FIELDS, TEXT, FieldValueError
from engage.engine.subscribers.history import aware
from engage.engine.users.scope import Scope

PAGE_SIZE = 50
MAX_PAGE = 200
SEARCH_SECONDS = 5.0  # a search by a field no index serves (contains, on a rare value) scans the base
MIN_DIGITS = 3  # fewer digits than this match half the table: not a search
OPS = ("eq", "contains")
# a number is looked up through q, whose rules protect masked digits; never as a field
SEARCHABLE = tuple(name for name in FIELDS if name != "msisdn")
LIST_COLUMNS = (Subscriber.id, Subscriber.msisdn, Subscriber.first_name, Subscriber.last_name,
                Subscriber.language, Subscriber.city, Subscriber.branch)
NUMBER_CHARACTERS = frozenset("0123456789+-(). ")


class SearchError(ValueError):
    """A search that cannot be run; the message starts with the parameter at fault (q, field, op, value)."""


@dataclass(frozen=True)
class Query:
    """What a person typed: ``number`` and/or ``field`` ``op`` ``value``; the page after id ``after``."""

    number: str = ""
    field: str = ""
    op: str = "eq"
    value: str = ""
    after: int = 0
    limit: int = PAGE_SIZE


def search(conn: Connection, query: Query, scope: Scope, region: str) -> dict[str, Any]:
    """One page of matching subscribers, by id: {"subscribers": [...], "next_after": id of the last
    one when more follow, else None, "match": how the number matched (exact, prefix, contains) or None}.
    Raises SearchError naming the parameter for anything that cannot be searched."""
    if not 1 <= query.limit <= MAX_PAGE:
        raise SearchError(f"limit: from 1 to {MAX_PAGE}")
    conditions: list[ColumnElement[bool]] = [Subscriber.id > query.after]
    match = None
    if query.number.strip():
        condition, match = number_condition(query.number, region, partial=scope.show_numbers)
        conditions.append(condition)
    if query.field:
        conditions.append(field_condition(query.field, query.op, query.value))
    if scope.branch is not None:
        conditions.append(Subscriber.branch == scope.branch)
    try:
        with budget(conn, SEARCH_SECONDS):
            rows = conn.execute(select(*LIST_COLUMNS).where(*conditions).order_by(Subscriber.id)
                                .limit(query.limit + 1)).mappings().all()
    except OverBudget:
        raise SearchError(f"the search took longer than {SEARCH_SECONDS:g} s; narrow it (a whole number, or "
                          "a field with eq or starts_with)") from None
    page = [_shown(dict(r), scope) for r in rows[:query.limit]]
    more = len(rows) > query.limit
    return {"subscribers": page, "next_after": page[-1]["id"] if more else None, "match": match}


def number_condition(text: str, region: str, *, partial: bool) -> tuple[ColumnElement[bool], str]:
    """A whole number (any way people write one) matches exactly. With ``partial``: "+99890..." or
    "0099890..." matches numbers starting so, other digits match numbers containing them."""
    text = text.strip()
    try:
        return Subscriber.msisdn == to_e164(text, region), "exact"
    except InvalidNumber:
        pass
    digits = "".join(c for c in text if c.isdigit())
    if not digits or not set(text) <= NUMBER_CHARACTERS:
        raise SearchError(f"q: {text!r} is not a phone number (digits, with + and the country code for a "
                          "number from abroad)")
    if not partial:
        raise SearchError(f"q: {text!r} is not a whole phone number; your role finds numbers only whole, "
                          "since the numbers it is shown are masked")
    if len(digits) < MIN_DIGITS:
        raise SearchError(f"q: at least {MIN_DIGITS} digits of the number are needed")
    if text.startswith("+") or (text.startswith("00") and text[2:3] not in ("", "0")):  # 00: dialled abroad
        prefix = "+" + (digits if text.startswith("+") else digits[2:])
        return _starts_with(prefix), "prefix"
    return Subscriber.msisdn.contains(digits, autoescape=True), "contains"


def _starts_with(prefix: str) -> ColumnElement[bool]:
    """LIKE 'prefix%' for correctness, plus the range of digit strings it spans, so that the unique
    index on msisdn is read as a range whatever the database's collation."""
    condition = and_(Subscriber.msisdn >= prefix, Subscriber.msisdn.like(prefix + "%"))
    upper = _next_digits(prefix[1:])
    return and_(condition, Subscriber.msisdn < "+" + upper) if upper else condition


def _next_digits(digits: str) -> str | None:
    """The smallest digit string above every string starting with ``digits``: "99890" -> "99891",
    "1299" -> "13"; None for all nines."""
    stripped = digits.rstrip("9")
    if not stripped:
        return None
    return stripped[:-1] + str(int(stripped[-1]) + 1)


def field_condition(name: str, op: str, raw: str) -> ColumnElement[bool]:
    """``name`` ``op`` ``raw``, the value read by the field's type. Text compares ignoring case, in any
    script (store.text_case: SQLite's own lower() folds only ASCII)."""
    if name not in SEARCHABLE:
        raise SearchError(f"field: {name!r} is not a subscriber field (one of {', '.join(SEARCHABLE)})")
    field = FIELDS[name]
    if op not in OPS:
        raise SearchError(f"op: {op!r} is not an operator (one of {', '.join(OPS)})")
    column = field.column
    if op == "contains":
        if field.type != TEXT:
            raise SearchError(f"op: contains is for text fields; {name} is {field.type}, use eq")
        if not raw.strip():
            raise SearchError(f"value: give the text to look for in {name}")
        return lowered(column).contains(raw.strip().lower(), autoescape=True)
    if field.type == DATETIME and len(raw.strip()) == 10:  # a day: any moment of it (UTC)
        return _day(name, raw.strip(), column)
    try:
        value = field.parse(raw)
    except FieldValueError as exc:
        raise SearchError(f"value: {exc}") from None
    if value is None:
        raise SearchError(f"value: give the {name} to look for")
    return lowered(column) == value.lower() if field.type == TEXT else column == value


def _day(name: str, raw: str, column: Any) -> ColumnElement[bool]:
    try:
        start = datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        raise SearchError(f"value: {name}: {raw!r} is not a date (YYYY-MM-DD)") from None
    return and_(column >= start, column < start + timedelta(days=1))


def profile(conn: Connection, subscriber_id: int, scope: Scope) -> dict[str, Any] | None:
    """The subscriber's profile (every catalogue field, custom attributes, tags, opted-out channels),
    its number shown as the scope may see it; None when there is none, or it is another branch's."""
    query = select(Subscriber.__table__).where(Subscriber.id == subscriber_id)
    if scope.branch is not None:
        query = query.where(Subscriber.branch == scope.branch)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    tags = conn.execute(select(SubscriberTag.tag).where(SubscriberTag.subscriber_id == subscriber_id)
                        .order_by(SubscriberTag.tag)).scalars().all()
    return _shown({"id": row["id"], "msisdn": row["msisdn"],
                   "fields": {name: row[name] for name in SEARCHABLE},
                   "attributes": row["attributes"] or {}, "tags": list(tags),
                   "opted_out": opted_out_channels(conn, row["msisdn"]),
                   "created_at": aware(row["created_at"]), "updated_at": aware(row["updated_at"])}, scope)


def _shown(row: dict[str, Any], scope: Scope) -> dict[str, Any]:
    if not scope.show_numbers:
        row["msisdn"] = mask(row["msisdn"])
    return row
