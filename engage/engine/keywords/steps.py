"""What an operator's keyword does, step by step: tag the subscriber, add the number to a static
list, set a profile field, mark the campaign it answers, call a webhook. A registry of small units,
like actions.py: a step takes a keyword's MOs of one batch together with its parameters (from the
keyword's row) and returns what it did for each, in order, for the MO's `keyword` event.

Each step's `check` says, when the keyword is saved, what is wrong with its parameters, so that a
keyword never fails on every MO for a typo.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, func, select

from engage.engine.events import record
from engage.engine.keywords import webhooks
from engage.engine.keywords.actions import Asked
from engage.engine.store.bulk import conflict_insert, one_of, update_from_values
from engage.engine.store.schema import StaticList, StaticListMember, Subscriber, SubscriberTag
from engage.engine.subscriber_fields import FIELDS, FieldValueError

Run = Callable[[Connection, Asked, dict[str, Any]], list[dict[str, Any]]]
Check = Callable[[Connection, dict[str, Any]], str | None]


@dataclass(frozen=True)
class Step:
    kind: str
    label: str  # for the keywords page
    params: tuple[str, ...]
    run: Run
    check: Check


STEPS: dict[str, Step] = {}


def step(kind: str, label: str, params: tuple[str, ...], check: Check) -> Callable[[Run], Run]:
    def register(fn: Run) -> Run:
        STEPS[kind] = Step(kind, label, params, fn, check)
        return fn
    return register


def _subscribers(conn: Connection, asked: Asked) -> dict[str, int]:
    numbers = sorted({mo.number for mo, _ in asked})
    return dict(conn.execute(select(Subscriber.msisdn, Subscriber.id).where(
        one_of(conn, Subscriber.msisdn, numbers))).all())


def _check_tag(conn: Connection, params: dict[str, Any]) -> str | None:
    tag = params.get("tag")
    return None if isinstance(tag, str) and 0 < len(tag.strip()) <= 64 else "tag: 1 to 64 characters"


@step("tag", "Tag the subscriber", ("tag",), _check_tag)
def tag(conn: Connection, asked: Asked, params: dict[str, Any]) -> list[dict[str, Any]]:
    known = _subscribers(conn, asked)
    name = params["tag"].strip()
    rows = [{"subscriber_id": known[n], "tag": name} for n in sorted({mo.number for mo, _ in asked} & set(known))]
    if rows:
        conn.execute(conflict_insert(conn, SubscriberTag.__table__).on_conflict_do_nothing(), rows)
    return [{"tagged": name} if mo.number in known else {"tagged": None, "why": "not a subscriber"}
            for mo, _ in asked]


def _check_list(conn: Connection, params: dict[str, Any]) -> str | None:
    list_id = params.get("list_id")
    if not isinstance(list_id, int) or isinstance(list_id, bool):
        return "list_id: a static list's id"
    if conn.execute(select(StaticList.id).where(StaticList.id == list_id)).first() is None:
        return f"list_id: there is no static list {list_id}"
    return None


@step("list", "Add the number to a static list", ("list_id",), _check_list)
def add_to_list(conn: Connection, asked: Asked, params: dict[str, Any]) -> list[dict[str, Any]]:
    list_id = params["list_id"]
    if conn.execute(select(StaticList.id).where(StaticList.id == list_id)).first() is None:
        return [{"listed": None, "why": f"static list {list_id} is gone"} for _ in asked]
    rows = [{"list_id": list_id, "msisdn": n} for n in sorted({mo.number for mo, _ in asked})]
    conn.execute(conflict_insert(conn, StaticListMember.__table__).on_conflict_do_nothing(), rows)
    return [{"listed": list_id} for _ in asked]


def _check_field(conn: Connection, params: dict[str, Any]) -> str | None:
    name = params.get("field")
    if name not in FIELDS or name == "msisdn":
        return f"field: {name!r} is not a profile field one may set by SMS"
    value = params.get("value")
    if value is not None:
        try:
            FIELDS[name].parse(value)
        except FieldValueError as exc:
            return f"value: {exc}"
    return None


@step("field", "Set a profile field (to the value given, or to the words after the keyword)", ("field", "value"),
      _check_field)
def set_field(conn: Connection, asked: Asked, params: dict[str, Any]) -> list[dict[str, Any]]:
    """"BDAY 1990-05-01" with no value set sets birth_date to what follows the word."""
    known = _subscribers(conn, asked)
    field = FIELDS[params["field"]]
    out, changes = [], {}
    for mo, found in asked:
        if mo.number not in known:
            out.append({"set": None, "why": "not a subscriber"})
            continue
        raw = params.get("value") if params.get("value") is not None else found.rest
        try:
            value = field.parse(raw)
        except FieldValueError as exc:
            out.append({"set": None, "why": str(exc)[:200]})
            continue
        changes[known[mo.number]] = value  # the last MO of a number wins, as it would one by one
        out.append({"set": field.name})
    if changes:
        update_from_values(conn, Subscriber.__table__, "id",
                           [{"id": sid, field.name: value} for sid, value in changes.items()],
                           extra={"updated_at": func.now()})  # live counts re-read what changed
    return out


def _check_answered(conn: Connection, params: dict[str, Any]) -> str | None:
    return None


@step("answered", "Count it as an answer to the campaign it replies to", (), _check_answered)
def answered(conn: Connection, asked: Asked, params: dict[str, Any]) -> list[dict[str, Any]]:
    record(conn, "answered", ({"campaign_id": mo.campaign_id, "data": {
        "inbound_id": mo.id, "keyword": found.keyword, "number": mo.number}} for mo, found in asked
        if mo.campaign_id is not None))
    return [{"answered": mo.campaign_id} for mo, _ in asked]


def _check_webhook(conn: Connection, params: dict[str, Any]) -> str | None:
    url = params.get("url")
    if not isinstance(url, str):
        return "url: an http:// or https:// address"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"url: {url[:80]!r} is not an http:// or https:// address"
    return None


@step("webhook", "Call a webhook (POST of the MO as JSON, after it is handled)", ("url",), _check_webhook)
def webhook(conn: Connection, asked: Asked, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Only noted here: the handler calls it once the MOs are committed (keywords/webhooks.py), so a
    slow web service never holds the transaction that marks MOs handled."""
    return [{"webhook": webhooks.shown(params["url"])} for _ in asked]


def problems(conn: Connection, steps: list[Any]) -> list[str]:
    """What is wrong with a keyword's steps, each named by its place: "step 2 (tag): ..."."""
    if not isinstance(steps, list):
        return ["steps: a list"]
    out = []
    for i, spec in enumerate(steps, 1):
        kind = spec.get("kind") if isinstance(spec, dict) else None
        if kind not in STEPS:
            out.append(f"step {i}: kind {kind!r} is not one of {', '.join(sorted(STEPS))}")
            continue
        extra = set(spec) - {"kind", *STEPS[kind].params}
        if extra:
            out.append(f"step {i} ({kind}): unknown {', '.join(sorted(extra))}")
        why = STEPS[kind].check(conn, spec)
        if why:
            out.append(f"step {i} ({kind}): {why}")
    return out


# steps other rooms add to this registry (named, not imported: keywords does not depend on them)
STEP_MODULES: tuple[str, ...] = ("engage.engine.loyalty.keyword_steps",)
for _module in STEP_MODULES:
    importlib.import_module(_module)
