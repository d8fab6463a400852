"""The campaign wizard's form and the engine's fields, both ways: the typed values become the
arguments of engine.campaigns (create, update_draft), a saved draft becomes the values of the form
that edits it, and an engine refusal names the input to show its message beside.

The form converts, it does not judge: a value it cannot convert goes to the engine as typed, so the
page shows the engine's message, the same text the API gives for the same input."""

from __future__ import annotations

import json
import re
from typing import Any

from engage.engine.campaigns import CampaignError
from engage.engine.campaigns.rules import OPTIONS

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# the input beside which an engine field's or option's message is shown
INPUTS = {"name": "name", "segment_id": "segment", "template_id": "template", "sender_id": "sender", "kind": "kind",
          "schedule": "schedule", "timezone": "timezone", "local_time": "local_time", "quiet_hours": "quiet_hours",
          "deadline_minutes": "deadline_minutes", "max_rate": "max_rate", "cap": "cap_count",
          "control_share": "control_percent", "arms": "arm_b_percent", "seed": "seed", "max_parts": "max_parts"}
SCHEDULE_INPUTS = ("at", "time", "days", "day", "cron", "until", "timezone")  # "schedule: time: ..." -> time
RECURRING = ("daily", "weekly", "monthly", "cron")


def input_for(exc: CampaignError) -> str | None:
    """The form input an engine message is about, or None (it is shown above the form only)."""
    if exc.field == "schedule":
        found = re.match(r"schedule: (\w+):", str(exc))
        if found and found.group(1) in SCHEDULE_INPUTS:
            return found.group(1)
    return INPUTS.get(exc.field or "")


def _number(text: str, kind: type[int] | type[float] = int) -> Any:
    """The number typed, or the text itself for the engine to refuse with its message."""
    try:
        return kind(text)
    except ValueError:
        return text


def schedule_from(form: dict[str, str], days: list[str]) -> dict[str, Any] | None:
    """The schedule spec from the form's fields; None for "now"."""
    kind = form.get("schedule", "now")
    if kind == "now":
        return None
    if kind == "at":
        return {"kind": "at", "at": form.get("at", "")}
    spec: dict[str, Any] = {"kind": kind}
    if kind == "cron":
        spec["cron"] = form.get("cron", "")
    else:
        spec["time"] = form.get("time", "")
    if kind == "weekly":
        spec["days"] = days
    if kind == "monthly":
        spec["day"] = _number(form.get("day") or "0")
    if form.get("until"):
        spec["until"] = form["until"]
    return spec


def fields_from(form: dict[str, str]) -> dict[str, Any]:
    """name, segment_id, template_id and sender_id from the form."""
    return {"name": form.get("name", ""), "segment_id": _number(form.get("segment") or "0"),
            "template_id": _number(form.get("template") or "0"), "sender_id": form.get("sender", "")}


def options_from(form: dict[str, str], days: list[str]) -> dict[str, Any]:
    """Campaign options from the form; empty fields are left out (the defaults apply)."""
    out: dict[str, Any] = {"kind": form.get("kind") or "marketing"}
    schedule = schedule_from(form, days)
    if schedule:
        out["schedule"] = schedule
    for name in ("local_time", "quiet_hours", "timezone"):
        if form.get(name):
            out[name] = form[name]
    for name in ("deadline_minutes", "max_rate", "seed", "max_parts"):
        if form.get(name):
            out[name] = _number(form[name])
    if form.get("control_percent"):
        percent = _number(form["control_percent"], float)
        out["control_share"] = percent / 100 if isinstance(percent, float) else percent
    if form.get("cap_count") or form.get("cap_days"):  # one without the other: the engine says what a cap needs
        out["cap"] = {k: _number(form[f"cap_{k}"]) for k in ("count", "days") if form.get(f"cap_{k}")}
    if form.get("arm_b_percent"):
        b = _number(form["arm_b_percent"], float)
        if not isinstance(b, float):
            raise CampaignError(f"arms: {b!r} is not a percent")
        out["arms"] = [{"arm": "A", "share": 100 - b}, {"arm": "B", "share": b}]
    elif form.get("arms_json"):  # arms the A/B field cannot show (set through the API), kept as they were
        try:
            out["arms"] = json.loads(form["arms_json"])
        except ValueError:
            raise CampaignError("arms: the kept arms are not readable; set arm B's share") from None
    return out


def arms_text(arms_json: str | None) -> str:
    """Arms the A/B field cannot show, as a person reads them: "A 40 %, B 30 %, C 30 %"."""
    try:
        arms = json.loads(arms_json or "[]")
        return ", ".join(f"{a['arm']} {a['share']:g} %" for a in arms)
    except (ValueError, TypeError, KeyError):
        return "not readable"


def changes_from(form: dict[str, str], days: list[str]) -> dict[str, Any]:
    """update_draft's arguments for the whole form: an option left empty goes back to its default."""
    return {**fields_from(form), **dict.fromkeys(OPTIONS), **options_from(form, days)}


def form_from(c: Any) -> tuple[dict[str, str], list[str]]:
    """A saved campaign (its row) as the form's values and ticked weekdays, for editing."""
    form = {"name": c.name, "segment": str(c.segment_id), "template": str(c.template_id), "sender": c.sender_id,
            "kind": c.kind or "marketing", "quiet_hours": c.quiet_hours or ""}
    for name in ("timezone", "local_time", "deadline_minutes", "max_rate", "seed", "max_parts"):
        if getattr(c, name) is not None:
            form[name] = str(getattr(c, name))
    if c.control_share:
        form["control_percent"] = f"{c.control_share * 100:g}"
    if c.cap:
        form["cap_count"], form["cap_days"] = str(c.cap["count"]), str(c.cap["days"])
    if c.arms and [a["arm"] for a in c.arms] == ["A", "B"]:
        form["arm_b_percent"] = f"{c.arms[1]['share']:g}"
    elif c.arms:
        form["arms_json"] = json.dumps(c.arms)
    schedule = c.schedule or {"kind": "now"}
    form["schedule"] = schedule["kind"]
    for key in ("cron", "time"):
        if schedule.get(key) is not None:
            form[key] = str(schedule[key])
    for key in ("at", "until"):
        if schedule.get(key):
            form[key] = schedule[key][:16]  # datetime-local shows minutes
    if schedule.get("day") is not None:
        form["day"] = str(schedule["day"])
    return form, list(schedule.get("days") or [])
