"""ussd_sessions: subscribers' walks through USSD menus, one row per session, partitioned by the day it
started. A snapshot: a session changes with every hop until it ends, so the days of sessions updated
since the last run are replaced whole; an open session shows where it stands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from engage.engine.analytics.exports.changed_rows import updated_since
from engage.engine.analytics.exports.personal import e164
from engage.engine.analytics.exports.registry import register
from engage.engine.analytics.exports.spec import STATUS, TIMESTAMP, Changes, Column, Dataset, ts


def touched(session: Any, before: Any, cutoff: datetime | None) -> Changes:
    return updated_since(session, before, cutoff, table="ussd_sessions u", key="u.id", created="u.started_at",
                         updated="u.updated_at")


DATASET = register(Dataset(
    name="ussd_sessions", version=2, mode="snapshot",
    doc="Every USSD session, in its latest state, once. Partitioned by the day it started.",
    columns=(
        Column("session_id", pa.int64(), "The session's id (events.ussd_session_id).", "u.id"),
        Column("gateway_id", pa.int32(), "The USSD gateway it came through.", "u.gateway_id"),
        Column("msisdn_hash", pa.string(), "The caller's number in E.164 (digits stored without their \"+\" given "
               "it) as HMAC-SHA256 hex under the export key: joins subscribers.msisdn_hash. Since version 2.",
               e164("u.msisdn"), personal="msisdn"),
        Column("code", STATUS, "The service code dialled, shortcut digits included.", "u.code"),
        Column("menu_id", pa.int32(), "The menu served.", "u.menu_id"),
        Column("screen", STATUS, "The screen it is on (or ended on).", "u.screen"),
        Column("screens_visited", pa.int32(), "How many distinct screens it reached.",
               {"postgresql": "json_array_length(u.visited)", "sqlite": "json_array_length(u.visited)"}),
        Column("language", STATUS, "The menu's language for it.", "u.language"),
        Column("end_reason", STATUS, "completed, expired, released or error; null while open.", "u.end_reason"),
        Column("started_at", TIMESTAMP, "When it was dialled (UTC); its date is the partition.",
               ts("u.started_at")),
        Column("updated_at", TIMESTAMP, "Its last hop.", ts("u.updated_at")),
        Column("ended_at", TIMESTAMP, "When it ended; null while open.", ts("u.ended_at")),
    ),
    source="ussd_sessions u", key="u.id", key_column="session_id", partition="started_at", time="u.started_at",
    touched=touched,
))
