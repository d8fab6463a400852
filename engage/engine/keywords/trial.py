""""Test a text": what engage would do with an MO, without doing it. The keywords page asks it as an
operator types, so that a new keyword is seen to catch "join", " Join! " and "JOIN now" before a
subscriber texts it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from engage.engine.keywords import definitions
from engage.engine.keywords.actions import ACTIONS
from engage.engine.keywords.steps import STEPS
from engage.engine.templates.render import TemplateError
from engage.engine.templates.store import TemplateSet


def explain(conn: Connection, text: str, short_code: str = "", language: str | None = None) -> dict[str, Any]:
    found, row = definitions.load(conn).find(text, short_code.strip())
    out: dict[str, Any] = {"text": text, "short_code": short_code, "word": found.word, "rest": found.rest,
                           "keyword": found.keyword, "keyword_id": row.id if row else None, "does": []}
    if found.keyword in ACTIONS:
        out["does"].append(_built_in(found.keyword))
    for spec in row.steps if row else ():
        step = STEPS.get(spec.get("kind"))
        out["does"].append(f"{step.label}: {_params(spec)}" if step else f"unknown step {spec.get('kind')!r}")
    if row is not None and row.reply_template_id is not None:
        try:
            rendered = TemplateSet(conn, row.reply_template_id).pick(language or "", "A").render(
                {"msisdn": "", "sender": short_code, "first_name": None})
            out["reply"] = rendered.text
        except (TemplateError, LookupError) as exc:
            out["reply_error"] = str(exc)
    if found.keyword is None:
        out["verdict"] = ("not a keyword: answered with the unknown-word reply" if row is not None
                          else "not a keyword: stored and shown on the inbound page, nothing done")
    else:
        out["verdict"] = f"keyword {found.keyword}"
    return out


def _built_in(keyword: str) -> str:
    return {"STOP": "Opt the number out of SMS, and set aside every message not yet sent to it",
            "START": "Opt the number back in to SMS", "HELP": "Note the request for help"}.get(
        keyword, f"{keyword}'s own action")


def _params(spec: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in spec.items() if k != "kind") or "-"

