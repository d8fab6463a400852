"""events: the event stream, one row per event and message. A batch event (queued, submitted,
delivered... for many messages at once) becomes one row per message it stands for, so BI counts
messages by kind without reading JSON. Append-only: an event never changes, a late receipt is a new
`delivered` row. Event data that can hold a phone number or text is not exported; the fields BI
slices by are columns."""

from __future__ import annotations

import pyarrow as pa

from engage.engine.analytics.exports.registry import register
from engage.engine.analytics.exports.spec import STATUS, TIMESTAMP, Column, Dataset

# The event's fields are read once per event, in a subquery the planner may not merge into the outer
# query (OFFSET 0 / LIMIT -1): merged, a batch event's JSON would be parsed again for each of its
# messages. The run's conditions go inside ({where}), on the events' own index.
FIELDS = ("run", "provider_id", "inbound_id", "session")
SOURCE = {
    "postgresql": "(SELECT e.id, e.at, e.kind, e.campaign_id, e.message_id, e.message_count, "
                  + ", ".join(f"(e.data->>'{f}')::bigint AS {f}" for f in FIELDS)
                  + ", e.data->>'keyword' AS keyword, e.data->>'screen' AS screen, e.data->>'error' AS error, "
                  "e.data->'message_ids' AS ids FROM events e WHERE {where} OFFSET 0) AS e "
                  "LEFT JOIN LATERAL json_array_elements_text(e.ids) AS j(value) ON true",
    "sqlite": "(SELECT e.id, e.at, e.kind, e.campaign_id, e.message_id, e.message_count, "
              + ", ".join(f"json_extract(e.data, '$.{f}') AS {f}" for f in FIELDS)
              + ", json_extract(e.data, '$.keyword') AS keyword, json_extract(e.data, '$.screen') AS screen, "
              "json_extract(e.data, '$.error') AS error, json_extract(e.data, '$.message_ids') AS ids "
              "FROM events e WHERE {where} LIMIT -1) AS e LEFT JOIN json_each(e.ids) AS j",
}

DATASET = register(Dataset(
    name="events", version=1, mode="append",
    doc="Every state change of the system, one row per event and message (a batch event is split into its "
        "messages). Append-only: each run adds the events written since the last one.",
    columns=(
        Column("event_id", pa.int64(), "The event's id: increasing, unique per event (a batch event's rows share "
               "it).", "e.id"),
        Column("at", TIMESTAMP, "When it happened (UTC); its date is the partition.",
               {"postgresql": "e.at", "sqlite": "(e.at || '+00')"}),
        Column("kind", STATUS, "What happened: queued, submitted, delivered, failed, expired, undeliverable, "
               "rejected, unconfirmed, failover, cancelled, opted_out, replied, keyword, answered, inbound, "
               "ussd_step, ussd_callback, campaign_launched, campaign_completed...", "e.kind"),
        Column("campaign_id", pa.int32(), "The campaign it belongs to; null for events of no campaign.",
               "e.campaign_id"),
        Column("message_id", pa.int64(), "The message it happened to; null for events of no message.",
               {"postgresql": "coalesce(e.message_id, j.value::bigint)",
                "sqlite": "coalesce(e.message_id, j.value)"}),
        Column("batch_size", pa.int32(), "How many messages the event stood for (1 unless a batch event).",
               "e.message_count"),
        Column("run_id", pa.int64(), "The campaign run (campaign_launched).", "e.run"),
        Column("provider_id", pa.int64(), "The provider (inbound).", "e.provider_id"),
        Column("inbound_id", pa.int64(), "The subscriber's message it is about (replied, keyword, answered).",
               "e.inbound_id"),
        Column("keyword", pa.string(), "The keyword texted (keyword, answered).", "e.keyword"),
        Column("ussd_session_id", pa.int64(), "The USSD session (ussd_step).",
               "e.session"),
        Column("screen", pa.string(), "The USSD screen shown (ussd_step).", "e.screen"),
        Column("error", pa.string(), "Why it failed (failed, failover), as the provider or engage said it.",
               "e.error"),
    ),
    source=SOURCE, key="e.id", key_column="event_id", partition="at", time="e.at",
    extra={"table": "events e", "table_key": "e.id", "table_time": "e.at"},
))
