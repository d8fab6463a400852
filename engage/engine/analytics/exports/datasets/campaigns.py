"""campaigns: every campaign with its settings (schedule, A/B arms, control group, caps, how its
effectiveness is judged), one row each, partitioned by the day it was made. Campaigns are few: each
run reads them all and replaces a partition only when its content changed."""

from __future__ import annotations

import pyarrow as pa

from engage.engine.analytics.exports.registry import register
from engage.engine.analytics.exports.spec import STATUS, TIMESTAMP, Column, Dataset, json_text, ts


def _json(name: str, doc: str) -> Column:
    return Column(name, pa.string(), doc + " (JSON text)", json_text(f"c.{name}"))


DATASET = register(Dataset(
    name="campaigns", version=1, mode="small",
    doc="Every campaign and its settings, in their latest state, once. Partitioned by the day it was made.",
    columns=(
        Column("campaign_id", pa.int32(), "The campaign's id (messages.campaign_id, events.campaign_id).", "c.id"),
        Column("name", pa.string(), "Its name, as marketers gave it.", "c.name"),
        Column("status", STATUS, "draft, awaiting_approval, approved, scheduled, running, paused, completed, "
               "cancelled...", "c.status"),
        Column("kind", STATUS, "marketing or service (service messages ignore caps and quiet hours).", "c.kind"),
        Column("branch", STATUS, "The branch it is limited to; null: central.", "c.branch"),
        Column("segment_id", pa.int32(), "The audience's segment.", "c.segment_id"),
        Column("template_id", pa.int32(), "The message template.", "c.template_id"),
        Column("sender_id", pa.string(), "The sender id recipients see.", "c.sender_id"),
        _json("schedule", "When it sends: null for now, a time, or a recurring rule"),
        Column("timezone", pa.string(), "The schedule's time zone.", "c.timezone"),
        Column("local_time", pa.string(), "HH:MM in each recipient's zone, when it sends at local time.",
               "c.local_time"),
        Column("quiet_hours", pa.string(), "HH:MM-HH:MM in the recipient's zone when nothing is sent.",
               "c.quiet_hours"),
        Column("deadline_minutes", pa.int32(), "A run's unsent messages expire this long after it starts.",
               "c.deadline_minutes"),
        Column("max_rate", pa.int32(), "Messages a second at most.", "c.max_rate"),
        _json("cap", "Its own frequency cap, e.g. {\"count\": 1, \"days\": 7}"),
        Column("control_share", pa.float64(), "Share of the audience held out as the control group (0 to 1).",
               "c.control_share"),
        _json("arms", "A/B arms and their shares"),
        _json("analytics", "How its effectiveness is judged: conversion kind, days, customer groups"),
        Column("max_parts", pa.int16(), "Most SMS parts a message may take.", "c.max_parts"),
        Column("audience_size", pa.int32(), "Recipients at the last launch.", "c.audience_size"),
        _json("set_aside", "Recipients set aside at launch, by reason"),
        Column("created_at", TIMESTAMP, "When it was made (UTC); its date is the partition.", ts("c.created_at")),
        Column("submitted_at", TIMESTAMP, "When it was submitted for approval.", ts("c.submitted_at")),
        Column("approved_at", TIMESTAMP, "When it was approved.", ts("c.approved_at")),
        Column("launched_at", TIMESTAMP, "When it was first launched.", ts("c.launched_at")),
        Column("completed_at", TIMESTAMP, "When it completed.", ts("c.completed_at")),
        Column("next_run_at", TIMESTAMP, "Its next scheduled run.", ts("c.next_run_at")),
    ),
    source="campaigns c", key="c.id", key_column="campaign_id", partition="created_at", time="c.created_at",
))
