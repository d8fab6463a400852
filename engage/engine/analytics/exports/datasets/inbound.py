"""inbound: subscribers' own SMS (MOs), one row each, with the keyword engage read in it and the
campaign it answered. Append-only: an MO is exported once it has waited the settle time
(ENGAGE_EXPORT_SETTLE), by when the keyword handlers have read it (they take well under a second)."""

from __future__ import annotations

import pyarrow as pa

from engage.engine.analytics.exports.personal import e164
from engage.engine.analytics.exports.registry import register
from engage.engine.analytics.exports.spec import STATUS, TIMESTAMP, Column, Dataset, ts

DATASET = register(Dataset(
    name="inbound", version=2, mode="append",
    doc="Every SMS a subscriber sent (MO) and what it was read as: the keyword (STOP, a campaign's word...) and "
        "the campaign it replied to. Append-only.",
    columns=(
        Column("inbound_id", pa.int64(), "The MO's id (events.inbound_id).", "i.id"),
        Column("received_at", TIMESTAMP, "When it arrived (UTC); its date is the partition.", ts("i.received_at")),
        Column("msisdn_hash", pa.string(), "The sender's number in E.164 (a gateway's digits without their \"+\" "
               "given it) as HMAC-SHA256 hex under the export key: joins subscribers.msisdn_hash. Since version 2; "
               "version 1 hashed the number as the gateway gave it.", e164("i.source"), personal="msisdn"),
        Column("destination", STATUS, "The short code or sender id it was sent to.", "i.destination"),
        Column("provider_id", pa.int32(), "The provider it came through.", "i.provider_id"),
        Column("keyword", STATUS, "What keywords/ read it as: STOP, START, HELP, a campaign's keyword, or the "
               "unknown word; null before handling.", "i.keyword"),
        Column("campaign_id", pa.int32(), "The campaign it replied to, when it is a reply.", "i.campaign_id"),
        Column("handled", pa.bool_(), "Whether the keyword handlers had read it when exported.", "i.handled"),
        Column("duplicate_of", pa.int64(), "The same MO received before (a gateway's resend): count it once.",
               "i.duplicate_of"),
        Column("text", pa.string(), "What the subscriber wrote (only with ENGAGE_EXPORT_TEXT).", "i.text",
               personal="text"),
    ),
    source="inbound_messages i", key="i.id", key_column="inbound_id", partition="received_at",
    time="i.received_at",
    extra={"table": "inbound_messages i", "table_key": "i.id", "table_time": "i.received_at"},
))
