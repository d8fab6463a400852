"""A campaign's fields and sending rules checked the one way for create, update and the wizard: each
field and option on its own, so that the wizard can show every mistake at once beside its input
(problems), while create and update stop at the first (checked). A schedule that leaves no time to
send (campaigns.timing) is refused here too, at save, not first found out at approval."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from engage import config
from engage.engine.campaigns.errors import CampaignError
from engage.engine.campaigns.rules import RuleError, check
from engage.engine.campaigns.timing import refusal
from engage.engine.sender_ids import SenderIdError, parse_sender
from engage.engine.store.schema import Campaign, Segment, Template
from engage.engine.templates.store import TemplateSet, sees

MAX_NAME = Campaign.__table__.c.name.type.length


def checked(conn: Connection, given: dict[str, Any], options: dict[str, Any], *, template_id: Any,
            branch: str | None, now: datetime | None = None) -> dict[str, Any]:
    """Column values for the ``given`` fields (any of records.FIELDS) and the sending ``options``;
    the first mistake raises CampaignError naming its field. ``template_id``: the template the
    campaign will have (its arms must exist there)."""
    values, found = _check(conn, given, options, template_id=template_id, branch=branch, now=now, stop=True)
    if found:
        raise found[0]
    return values


def problems(conn: Connection, given: dict[str, Any], options: dict[str, Any], *, template_id: Any,
             branch: str | None, now: datetime | None = None) -> tuple[dict[str, Any], list[CampaignError]]:
    """Every mistake at once, one per field or option, with the values of what was right."""
    return _check(conn, given, options, template_id=template_id, branch=branch, now=now, stop=False)


class _Found(Exception):
    pass


def _check(conn: Connection, given: dict[str, Any], options: dict[str, Any], *, template_id: Any,
           branch: str | None, now: datetime | None, stop: bool) -> tuple[dict[str, Any], list[CampaignError]]:
    out: dict[str, Any] = {}
    found: list[CampaignError] = []

    def attempt(fn: Callable[[], dict[str, Any]]) -> None:
        try:
            out.update(fn())
        except CampaignError as exc:
            found.append(exc)
            if stop:
                raise _Found from None

    settings = config.load()
    try:
        for name, fn in _FIELDS.items():
            if name in given:
                attempt(lambda fn=fn, name=name: fn(conn, given[name], branch, settings))
        zone = _zone_of(options, settings.default_timezone)
        for name in options:
            single = {name: options[name]}
            if name == "schedule" and "timezone" in options and zone == options.get("timezone"):
                single["timezone"] = options["timezone"]
            attempt(lambda single=single: _rules(single, zone))
        if "arms" in out and "template_id" not in [e.field for e in found]:
            attempt(lambda: _arms_in_template(conn, out["arms"], template_id))
        if not any(e.field in ("schedule", "timezone", "quiet_hours", "deadline_minutes") for e in found):
            attempt(lambda: _time_left(out, zone, now))
    except _Found:
        pass
    return out, found


def _zone_of(options: dict[str, Any], default: str) -> str:
    """The schedule's zone: the campaign's own when it is one, else the installation's."""
    try:
        return check({"timezone": options["timezone"]}, default_timezone=default)["timezone"]
    except (KeyError, RuleError, TypeError):
        return default


def _rules(options: dict[str, Any], zone: str) -> dict[str, Any]:
    try:
        return check(options, default_timezone=zone)
    except RuleError as exc:
        raise CampaignError(str(exc)) from None


def _name(conn: Connection, value: Any, branch: str | None, settings: Any) -> dict[str, Any]:
    if not isinstance(value, str):
        raise CampaignError(f"name: {value!r} is not a text")
    name = value.strip()
    if not name:
        raise CampaignError("name: a campaign needs a name")
    if len(name) > MAX_NAME:
        raise CampaignError(f"name: at most {MAX_NAME} characters, got {len(name)}")
    return {"name": name}


def _segment(conn: Connection, value: Any, branch: str | None, settings: Any) -> dict[str, Any]:
    if value in (None, "", 0):
        raise CampaignError("segment_id: choose the segment to send to")
    segment_id = _id(value, "segment_id")
    segment = conn.execute(select(Segment.id, Segment.branch).where(Segment.id == segment_id)).first()
    if segment is None:
        raise CampaignError(f"segment {segment_id} does not exist", field="segment_id")
    if branch is not None and segment.branch not in (None, branch):
        raise CampaignError(f"segment {segment_id} belongs to another branch", field="segment_id")
    return {"segment_id": segment_id}


def _template(conn: Connection, value: Any, branch: str | None, settings: Any) -> dict[str, Any]:
    if value in (None, "", 0):
        raise CampaignError("template_id: choose the template to send")
    template_id = _id(value, "template_id")
    template = conn.execute(select(Template.branch).where(Template.id == template_id)).first()
    if template is None or not sees(template.branch, branch):  # another branch's is not there for it
        raise CampaignError(f"template {template_id} does not exist", field="template_id")
    return {"template_id": template_id}


def _sender(conn: Connection, value: Any, branch: str | None, settings: Any) -> dict[str, Any]:
    sender = value or ""
    if not isinstance(sender, str):
        raise CampaignError(f"sender id {sender!r}: give it as text, like \"Shop\" or \"7777\"", field="sender_id")
    try:
        return {"sender_id": parse_sender(sender, region=settings.default_region).value}
    except SenderIdError as exc:
        raise CampaignError(str(exc), field="sender_id") from None


_FIELDS = {"name": _name, "segment_id": _segment, "template_id": _template, "sender_id": _sender}


def _arms_in_template(conn: Connection, arms: list[dict[str, Any]], template_id: Any) -> dict[str, Any]:
    if not isinstance(template_id, int) or isinstance(template_id, bool):
        return {}
    missing = sorted({a["arm"] for a in arms} - set(TemplateSet(conn, template_id).arms))
    if missing:
        raise CampaignError(f"arms: template {template_id} has no variant for arm {missing[0]!r}")
    return {}


def _time_left(values: dict[str, Any], zone: str, now: datetime | None) -> dict[str, Any]:
    why = refusal(values, zone, now)
    if why:
        raise CampaignError(why)
    return {}


def _id(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CampaignError(f"{field}: {value!r} is not an id (a whole number)")
    return value
