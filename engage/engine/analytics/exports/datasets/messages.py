"""messages: every message as it stands now, one row each, partitioned by the day it was created
(its campaign's launch). A compacted snapshot: when a message changes (a receipt, even days late), its
day's partition is rewritten whole and replaced, so BI reads each message once, in its latest state,
with no de-duplication. Which days changed is found from the event stream: the messages of the events
written since the last run, and the messages created since."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pyarrow as pa

from engage.engine.analytics.exports.planning import settled_key
from engage.engine.analytics.exports.registry import register
from engage.engine.analytics.exports.spec import MONEY, STATUS, TIMESTAMP, Changes, Column, Dataset, ts

DAY = {"postgresql": "(m.created_at AT TIME ZONE 'UTC')::date", "sqlite": "substr(m.created_at, 1, 10)"}
EVENT_MESSAGES = {
    "postgresql": "SELECT e.message_id AS id FROM events e WHERE e.id > :ev_low AND e.id <= :ev_high "
                  "AND e.message_id IS NOT NULL UNION ALL SELECT j.value::bigint FROM events e CROSS JOIN LATERAL "
                  "json_array_elements_text(e.data->'message_ids') AS j(value) WHERE e.id > :ev_low "
                  "AND e.id <= :ev_high AND e.message_id IS NULL",
    "sqlite": "SELECT e.message_id AS id FROM events e WHERE e.id > :ev_low AND e.id <= :ev_high "
              "AND e.message_id IS NOT NULL UNION ALL SELECT j.value FROM events e, json_each(e.data, '$.message_ids') "
              "AS j WHERE e.id > :ev_low AND e.id <= :ev_high AND e.message_id IS NULL",
}


def touched(session: Any, before: Any, cutoff: datetime | None) -> Changes:
    events_high = settled_key(session, "events e", "e.id", "e.at", cutoff)
    messages_high = settled_key(session, "messages m", "m.id", "m.created_at", cutoff)
    if before is None:
        return Changes({}, {"event_id": events_high, "message_id": messages_high}, messages_high)
    ev_low, msg_low = int(before.cursor.get("event_id", 0)), int(before.cursor.get("message_id", 0))
    events_high, messages_high = max(events_high, ev_low), max(messages_high, msg_low)
    day = DAY[session.dialect]
    rows = session.rows(
        f"SELECT {day}, min(m.id) FROM messages m WHERE m.id > :msg_low AND m.id <= :msg_high GROUP BY 1 "
        f"UNION ALL SELECT {day}, min(m.id) FROM messages m JOIN ({EVENT_MESSAGES[session.dialect]}) AS t "
        f"ON m.id = t.id GROUP BY 1",
        {"msg_low": msg_low, "msg_high": messages_high, "ev_low": ev_low, "ev_high": events_high})
    dates: dict[date, int | None] = {}
    for day_value, low in rows:
        day_value = day_value if isinstance(day_value, date) else date.fromisoformat(day_value)
        dates[day_value] = low if day_value not in dates else min(dates[day_value], low)
    return Changes(dates, {"event_id": events_high, "message_id": messages_high}, messages_high)


DATASET = register(Dataset(
    name="messages", version=1, mode="snapshot",
    doc="Every message, in its latest state, once. Partitioned by the day it was created; a partition is "
        "replaced whole when any of its messages changes (a late receipt included).",
    columns=(
        Column("message_id", pa.int64(), "The message's id.", "m.id"),
        Column("campaign_id", pa.int32(), "Its campaign.", "m.campaign_id"),
        Column("run_id", pa.int32(), "Its campaign run (the occurrence of a recurring campaign).", "m.run_id"),
        Column("arm", STATUS, "The A/B arm it was sent (or held out) in; null without arms.", "m.arm"),
        Column("subscriber_id", pa.int64(), "The recipient: subscribers.subscriber_id, whose msisdn_hash is the "
               "number (kept there once, not hashed again per message; erased with the subscriber).",
               "m.subscriber_id"),
        Column("status", STATUS, "Where it stands: pending, held, queued, sending, submitted, delivered, failed, "
               "expired, undeliverable, rejected, unconfirmed, cancelled, opted_out, control (held out as the "
               "control group)...", "m.status"),
        Column("error", pa.string(), "Why it failed, when it did.", "m.error"),
        Column("encoding", STATUS, "GSM7 or UCS2.", "m.encoding"),
        Column("parts", pa.int16(), "SMS parts it took.", "m.parts"),
        Column("provider_id", pa.int32(), "The provider that sent it.", "m.provider_id"),
        Column("network", STATUS, "The network (MCC-MNC or prefix) its route was priced on.", "m.network"),
        Column("price", MONEY, "What it cost, all parts, in `currency`.", "m.price"),
        Column("currency", STATUS, "ISO 4217 currency of `price`.", "m.currency"),
        Column("created_at", TIMESTAMP, "When the audience was frozen (UTC); its date is the partition.",
               ts("m.created_at")),
        Column("queued_at", TIMESTAMP, "When it was queued for sending.", ts("m.queued_at")),
        Column("submitted_at", TIMESTAMP, "When the provider accepted it.", ts("m.submitted_at")),
        Column("done_at", TIMESTAMP, "When it reached its final state (the receipt's time when delivered).",
               ts("m.done_at")),
        Column("body", pa.string(), "The text sent (only with ENGAGE_EXPORT_TEXT).", "m.body", personal="text"),
    ),
    source="messages m", key="m.id", key_column="message_id", partition="created_at", time="m.created_at",
    touched=touched,
))
