"""subscribers: the subscriber base as it stands, one row each, partitioned by the day a subscriber
was added. A snapshot: the days of subscribers changed (updated_at) or deleted (subscriber_removals)
since the last run are replaced whole, so a deleted subscriber leaves the export too. The number is a
keyed hash, names are left out unless ENGAGE_EXPORT_TEXT, and the birth date is only its year."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from engage.engine.analytics.exports.changed_rows import days_of_keys, updated_since
from engage.engine.analytics.exports.planning import settled_key
from engage.engine.analytics.exports.registry import register
from engage.engine.analytics.exports.spec import MONEY, STATUS, TIMESTAMP, Changes, Column, Dataset, json_text, ts


def touched(session: Any, before: Any, cutoff: datetime | None) -> Changes:
    changes = updated_since(session, before, cutoff, table="subscribers s", key="s.id", created="s.created_at",
                            updated="s.updated_at")
    removals = settled_key(session, "subscriber_removals r", "r.seq", "r.removed_at", cutoff)
    cursor = {**changes.cursor, "removal": removals}
    if before is None:
        return Changes({}, cursor, changes.last_id)
    low = int(before.cursor.get("removal", 0))
    gone = [r[0] for r in session.rows("SELECT r.subscriber_id FROM subscriber_removals r WHERE r.seq > :low "
                                       "AND r.seq <= :high", {"low": low, "high": max(removals, low)})]
    dates = {**days_of_keys(before.partitions, gone), **changes.dates}
    return Changes(dates, {**cursor, "removal": max(removals, low)}, changes.last_id)


def _plain(name: str, arrow: pa.DataType, doc: str) -> Column:
    return Column(name, arrow, doc, f"s.{name}")


DATASET = register(Dataset(
    name="subscribers", version=1, mode="snapshot",
    doc="The subscriber base in its latest state, once per subscriber (deleted ones leave it). Partitioned by "
        "the day the subscriber was added.",
    columns=(
        Column("subscriber_id", pa.int64(), "The subscriber's id (messages.subscriber_id).", "s.id"),
        Column("msisdn_hash", pa.string(), "The number, E.164, as HMAC-SHA256 hex under the export key: the same "
               "in every dataset and run (inbound, ussd_sessions).", "s.msisdn", personal="msisdn"),
        Column("first_name", pa.string(), "Only with ENGAGE_EXPORT_TEXT.", "s.first_name", personal="text"),
        Column("last_name", pa.string(), "Only with ENGAGE_EXPORT_TEXT.", "s.last_name", personal="text"),
        Column("language", STATUS, "Preferred language (ISO 639-1).", "s.language"),
        Column("gender", STATUS, "M, F, X or null.", "s.gender"),
        Column("birth_year", pa.int16(), "Year of birth (the date itself is not exported).",
               {"postgresql": "extract(year from s.birth_date)::int",
                "sqlite": "CAST(substr(s.birth_date, 1, 4) AS INTEGER)"}),
        _plain("region", STATUS, "The subscriber's region."),
        _plain("city", STATUS, "The subscriber's city."),
        _plain("branch", STATUS, "The branch serving the subscriber."),
        _plain("timezone", STATUS, "IANA time zone."),
        _plain("network", STATUS, "Home network, MCC-MNC."),
        _plain("contract_type", STATUS, "prepaid, postpaid or hybrid."),
        _plain("tariff_plan", STATUS, "Tariff plan."),
        _plain("device_os", STATUS, "android, ios, kaios, other."),
        _plain("device_model", STATUS, "Handset model."),
        Column("activation_date", pa.date32(), "When the line was activated.", "s.activation_date"),
        _plain("balance", MONEY, "Account balance, in the operator's currency."),
        _plain("arpu", MONEY, "Average revenue per user, monthly."),
        _plain("last_recharge_amount", MONEY, "The last top-up."),
        Column("last_recharge_at", TIMESTAMP, "When the last top-up was.", ts("s.last_recharge_at")),
        Column("last_activity_at", TIMESTAMP, "Last activity on the network.", ts("s.last_activity_at")),
        _plain("data_mb_month", pa.int32(), "Data used this month, MB."),
        _plain("voice_min_month", pa.int32(), "Voice minutes this month."),
        _plain("sms_month", pa.int32(), "SMS sent this month."),
        _plain("roaming", pa.bool_(), "Roaming now."),
        _plain("loyalty_tier", STATUS, "Loyalty tier."),
        _plain("loyalty_points", pa.int64(), "Loyalty points."),
        Column("attributes", pa.string(), "The operator's own fields (JSON text).", json_text("s.attributes")),
        Column("created_at", TIMESTAMP, "When the subscriber was added (UTC); its date is the partition.",
               ts("s.created_at")),
        Column("updated_at", TIMESTAMP, "When the record last changed.", ts("s.updated_at")),
    ),
    source="subscribers s", key="s.id", key_column="subscriber_id", partition="created_at", time="s.created_at",
    touched=touched,
))
