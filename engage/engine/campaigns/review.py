"""What a campaign is, in one place, for the person who wrote it and the one who approves it: the
audience and what is set aside, each message as it will read (per language and A/B arm, with its
encoding and parts), when it goes out in words, the delivery rules in sentences, warnings and the
cost. The wizard's last step, the draft's page and the approvals page all show this one review, so
an approver agrees to what the author saw.

Works on a saved campaign's row or on one not saved yet (the wizard's values): anything with the
campaign's columns as attributes."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, select

from engage import config
from engage.engine.campaigns import timing
from engage.engine.campaigns.estimate import estimate_of
from engage.engine.campaigns.rules import OPTIONS
from engage.engine.scheduler.schedule import ScheduleError, parse_schedule
from engage.engine.segments.audience import count
from engage.engine.store.schema import Campaign, Segment, Template, TemplateVariant
from engage.engine.templates.render import CompiledTemplate, TemplateError, check_parts, sample_context
from engage.engine.users.scope import Scope

ENCODINGS = {"gsm7": "GSM-7", "ucs2": "UCS-2 (Unicode)"}


def unsaved(values: dict[str, Any], *, branch: str | None, name: str = "") -> Any:
    """The wizard's checked values as a campaign row not saved yet."""
    row = {k: None for k in OPTIONS}
    row.update(id=None, name=name, branch=branch, control_share=0.0, seed=1, kind="marketing")
    row.update(values)
    return SimpleNamespace(**row)


def review(conn: Connection, c: Any, *, now: datetime | None = None, seconds: float | None = None) -> dict[str, Any]:
    """The review of campaign row ``c`` (see the module's note). ``seconds``: the budget of the estimate and
    of the count each (0: neither is made, the problem says so)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    zone = c.timezone or config.load().default_timezone
    values = {k: getattr(c, k) for k in OPTIONS}
    out: dict[str, Any] = {
        "segment": conn.execute(select(Segment.name).where(Segment.id == c.segment_id)).scalar(),
        "template": conn.execute(select(Template.name).where(Template.id == c.template_id)).scalar(),
        "sender": c.sender_id, "zone": zone, "when": when(c), "rules": rules(c),
        "arms": c.arms or None, "control_percent": round((c.control_share or 0) * 100, 1),
        "messages": messages(conn, c), "warnings": timing.warnings(values, zone, now),
        "estimate": None, "opted_out": None, "problem": None}
    refused = timing.refusal(values, zone, now)
    if refused:
        out["warnings"].insert(0, refused.split(": ", 2)[-1].capitalize())
    try:
        if seconds == 0:  # the caller's time ran out: the review goes without figures
            raise ValueError("not counted in time")
        out["estimate"] = estimate_of(conn, c, now=now, seconds=seconds)
        definition = conn.execute(select(Segment.definition).where(Segment.id == c.segment_id)).scalar_one()
        out["opted_out"] = count(conn, definition, scope=Scope(branch=c.branch), now=now, timeout=seconds)["opted_out"]
    except ValueError as exc:  # a segment that does not compile, or too slow to count: said, not guessed
        out["problem"] = str(exc)
    else:
        if out["estimate"]["reachable"] == 0:
            out["warnings"].append("Nobody in this audience can be reached now: it would send nothing.")
    for m in out["messages"]:
        if m["error"]:
            out["warnings"].append(f"Arm {m['arm']}, {m['language']}: {m['error']}")
    return out


def review_of(conn: Connection, campaign_id: int, *, seconds: float | None = None) -> dict[str, Any] | None:
    """The review of a saved campaign; None when there is none of that id."""
    row = conn.execute(select(Campaign.__table__).where(Campaign.id == campaign_id)).first()
    return None if row is None else review(conn, row, seconds=seconds)


def when(c: Any) -> str:
    """When it goes out, in words, its zone named."""
    zone = c.timezone or config.load().default_timezone
    if not c.schedule:
        text = "As soon as it is approved"
    else:
        try:
            text = parse_schedule(c.schedule, default_timezone=zone).describe()
            text = text[0].upper() + text[1:]
        except ScheduleError as exc:
            return f"A schedule that cannot be read: {exc}"
    if c.local_time:
        text += f", at {c.local_time} in each recipient's own time zone"
    return text


def rules(c: Any) -> list[str]:
    """The delivery rules that apply, each a sentence."""
    said = []
    if c.quiet_hours:
        said.append(f"Quiet hours {c.quiet_hours} in each recipient's time zone: messages due then are held "
                    "until they end, never dropped.")
    if c.deadline_minutes:
        said.append(f"What is not sent within {c.deadline_minutes} minutes of the send time expires.")
    if c.max_rate:
        said.append(f"At most {c.max_rate} messages a second.")
    if c.cap:
        said.append(f"A subscriber gets at most {c.cap['count']} of this campaign in {c.cap['days']} days.")
    if c.kind == "transactional":
        said.append("Transactional: the installation's frequency cap does not apply.")
    if c.max_parts:
        said.append(f"A message longer than {c.max_parts} parts is not sent.")
    return said


def messages(conn: Connection, c: Any) -> list[dict[str, Any]]:
    """Each variant (arm x language) rendered for the sample recipient the template editor measures with."""
    context = sample_context(sender=c.sender_id or "", campaign=c.name or "")
    arms = [a["arm"] for a in c.arms] if c.arms else ["A"]
    default = conn.execute(select(Template.default_language).where(Template.id == c.template_id)).scalar()
    out = []
    for language, arm, body in conn.execute(
            select(TemplateVariant.language, TemplateVariant.arm, TemplateVariant.body)
            .where(TemplateVariant.template_id == c.template_id, TemplateVariant.arm.in_(arms))
            .order_by(TemplateVariant.arm, TemplateVariant.language)):
        entry = {"arm": arm, "language": language, "default": language == default, "text": None,
                 "encoding": None, "parts": None, "characters": None, "error": None}
        try:
            rendered = CompiledTemplate(body, language).render(context)
            entry.update(text=rendered.text, encoding=ENCODINGS.get(rendered.info.encoding, rendered.info.encoding),
                         parts=rendered.info.parts, characters=len(rendered.text))
            check_parts(rendered, c.max_parts)
        except TemplateError as exc:
            entry["error"] = str(exc)
        out.append(entry)
    return out
