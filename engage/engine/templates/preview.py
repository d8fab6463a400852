"""What a template says to one real subscriber, in every variant, and what each text costs.

Staff check a template against a real profile before launching (a NULL name, a long city, a
Cyrillic attribute that turns a GSM-7 text into UCS-2 and doubles its parts). A preview never
raises for the template's own faults: a variant that fails to compile or render is reported with
its error beside the others, since seeing the failure is the point of previewing.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from sqlalchemy import Connection, select

from engage.engine import phones
from engage.engine.store.schema import Subscriber, Template, TemplateVariant
from engage.engine.templates.render import FIELDS, CompiledTemplate, TemplateError, check_parts, sample_context
from engage.engine.templates.store import DEFAULT_ARM, choose_language

_COLUMNS = [getattr(Subscriber, f) for f in FIELDS] + [Subscriber.id, Subscriber.attributes]


def preview(conn: Connection, template_id: int, *, subscriber_id: int | None = None, msisdn: str | None = None,
            arm: str | None = None, sender: str = "", campaign: str = "", max_parts: int | None = None,
            region: str = "UZ") -> dict[str, Any]:
    """The template rendered for one subscriber: the one with ``subscriber_id`` or ``msisdn`` (any
    way people type a number, read in ``region``), else the first subscriber, else a made-up sample
    recipient when there are no subscribers yet. The variant chosen is the one a send would use
    (the subscriber's language in ``arm``, default A); ``all_variants`` shows every variant for the
    same subscriber. ``max_parts``: the campaign's cap; a text over it carries the error.
    Raises LookupError naming what was not found (template, subscriber, arm)."""
    template = conn.execute(select(Template.default_language).where(Template.id == template_id)).first()
    if template is None:
        raise LookupError(f"no template with id {template_id}")
    rows = conn.execute(select(TemplateVariant.language, TemplateVariant.arm, TemplateVariant.body)
                        .where(TemplateVariant.template_id == template_id)
                        .order_by(TemplateVariant.arm, TemplateVariant.language)).all()
    arm = arm or DEFAULT_ARM
    in_arm = [r.language for r in rows if r.arm == arm]
    if not in_arm:
        raise LookupError(f"template {template_id} has no arm {arm!r}")
    who, context = _recipient(conn, subscriber_id, msisdn, region)
    context.update(sender=sender, campaign=campaign)
    language = choose_language(in_arm, context.get("language"), template.default_language)
    variants = [{"language": r.language, "arm": r.arm, **_render(r.body, r.language, context, max_parts)}
                for r in rows]
    chosen = next(v for v in variants if v["language"] == language and v["arm"] == arm)
    return {"template_id": template_id, "subscriber": who, **chosen, "all_variants": variants}


def _recipient(conn: Connection, subscriber_id: int | None, msisdn: str | None,
               region: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(who, render context) of the subscriber to preview with."""
    query = select(*_COLUMNS)
    if subscriber_id is not None:
        row = conn.execute(query.where(Subscriber.id == subscriber_id)).mappings().first()
        if row is None:
            raise LookupError(f"no subscriber with id {subscriber_id}")
    elif msisdn:
        number = msisdn.strip()
        with suppress(phones.InvalidNumber):  # else looked up as typed; "not found" below says so
            number = phones.to_e164(number, region)
        row = conn.execute(query.where(Subscriber.msisdn == number)).mappings().first()
        if row is None:
            raise LookupError(f"no subscriber with number {msisdn.strip()!r}")
    else:
        row = conn.execute(query.order_by(Subscriber.id).limit(1)).mappings().first()
        if row is None:  # a fresh install: preview on a plausible made-up recipient
            context = sample_context()
            return {"id": None, "msisdn": context["msisdn"], "language": context["language"], "sample": True}, context
    context = dict(row)
    who = {"id": context.pop("id"), "msisdn": row["msisdn"], "language": row["language"], "sample": False}
    return who, context


def _render(body: str, language: str, context: dict[str, Any], max_parts: int | None) -> dict[str, Any]:
    """One variant's text and cost, or the error it gives."""
    result: dict[str, Any] = {"text": None, "encoding": None, "parts": None, "characters": None,
                              "non_gsm_chars": None, "error": None}
    try:
        rendered = CompiledTemplate(body, language).render(context)
    except TemplateError as exc:
        result["error"] = str(exc)
        return result
    result.update(text=rendered.text, encoding=rendered.info.encoding, parts=rendered.info.parts,
                  characters=len(rendered.text), non_gsm_chars=rendered.info.non_gsm_chars)
    try:
        check_parts(rendered, max_parts)
    except TemplateError as exc:
        result["error"] = str(exc)
    return result
