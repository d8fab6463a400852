"""The reader's guide to the exports, as markdown, made from the datasets' declarations: what
`engage export schema` prints and docs/exports.md holds (tests/test_export_schema.py fails when the
file is not what this makes)."""

from __future__ import annotations

import pyarrow as pa

from engage.engine.analytics.exports.registry import all_datasets
from engage.engine.analytics.exports.spec import Dataset

HEADER = """# Parquet exports for BI

<!-- Generated from engage/engine/analytics/exports/ by `engage export schema > docs/exports.md`. Do not edit. -->

`engage export run` writes each dataset below into `<dir>/<dataset>/dt=YYYY-MM-DD/part-<run>-<n>.parquet`
(Hive-style partitions on the UTC date, zstd). DuckDB, pandas/pyarrow, Spark and Trino read them as they are:

```sql
SELECT status, count(*) FROM read_parquet('exports/messages/**/*.parquet', hive_partitioning = true) GROUP BY 1;
```

- **Types.** Timestamps are UTC (`timestamp[us, tz=UTC]`), money is `decimal128(18, 6)`, statuses and kinds are
  dictionary-encoded strings. The partition column `dt` comes from the directory name, not the file.
- **Incremental.** A run exports what changed since the last one (its watermark is the `export:<dataset>` row of
  `analytics_watermarks`, moved only once the files are in place); a second run straight after adds nothing.
  Rows younger than `ENGAGE_EXPORT_SETTLE` seconds (60) wait for the next run, so a transaction still open
  when a run looks is not jumped over.
- **Append datasets** (events, inbound) only gain files. **Snapshot datasets** (messages, subscribers,
  ussd_sessions, campaigns, campaign_results) hold every row once, in its latest state: when a row changes
  (a delivery receipt arriving days late, a subscriber's new tier, a campaign's figures recomputed), the
  partition of its day is rewritten and swapped whole. Read them as they are, no de-duplication; the `events`
  dataset keeps the history (a late receipt is a new `delivered` row there, and its message's partition in
  `messages` is replaced).
- **Nothing half made is visible.** Files are written outside the dataset's directory and renamed into place;
  a run that dies is finished or undone by the next. `<dir>/<dataset>/_manifest.json` describes the last run
  (rows, files, partitions replaced, watermark from and to, schema version, started and finished);
  `_manifests/<run>.json` keeps each.
- **Phone numbers** are never written in clear: `msisdn_hash` is HMAC-SHA256 (hex) of the E.164 number under
  the installation's export key (`ENGAGE_EXPORT_KEY`, else `$ENGAGE_HOME/export_key`, made once): the same in
  every dataset and run, so BI joins on it, and useless without the key. Messages carry `subscriber_id`; the
  number is in `subscribers`. `engage export run --clear-msisdn --as ADMIN_EMAIL --to DIR` writes the numbers
  themselves (column `msisdn`), into a directory of their own, recorded in the audit log.
- **Names and free text** (message body, MO text, first and last names) are left out unless
  `ENGAGE_EXPORT_TEXT=1`; their columns are marked *text* below.
- **Versions.** Each dataset has a schema version, in the files' metadata and the manifest. A new version
  rebuilds that dataset's partitions on its next run.
- **Schedule.** `ENGAGE_EXPORT_EVERY=daily` (or a number of minutes) makes the leading scheduler export
  every dataset into `ENGAGE_EXPORTS_DIR` (`exports/`); off by default.
"""


def type_name(arrow: pa.DataType) -> str:
    if pa.types.is_dictionary(arrow):
        return "string (dictionary)"
    return str(arrow)


def dataset_markdown(dataset: Dataset) -> str:
    kind = {"append": "append-only", "snapshot": "snapshot (partitions replaced)",
            "small": "snapshot (read whole, changed partitions replaced)"}[dataset.mode]
    lines = [f"## {dataset.name}", "", dataset.doc, "",
             f"Schema version {dataset.version} · {kind} · partitioned by the UTC date of `{dataset.partition}` "
             f"· key `{dataset.key_column}`", "", "| column | type | meaning |", "|---|---|---|"]
    for column in dataset.columns:
        note = {"msisdn": " *Personal: keyed hash.*", "text": " *Text: only with ENGAGE_EXPORT_TEXT.*"}.get(
            column.personal or "", "")
        doc = column.doc.replace("|", "\\|")
        lines.append(f"| `{column.name}` | {type_name(column.type)} | {doc}{note} |")
    lines.append("| `dt` | date (partition) | The directory's date: the UTC date of "
                 f"`{dataset.partition}`. |")
    return "\n".join(lines) + "\n"


def markdown() -> str:
    return HEADER + "".join("\n" + dataset_markdown(d) for d in all_datasets())
