"""The exports' schema is a promise to BI: each dataset's columns are pinned to its version here, and
docs/exports.md is what the code says."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from engage.engine.analytics import exports
from engage.engine.analytics.exports.schema_doc import markdown

# A dataset's columns (names, types, personal kinds) and partitioning, by version. Changing a dataset's
# columns without bumping its version fails here: bump it, and add the new fingerprint (keep the old
# ones: they say what files of that version hold).
FINGERPRINTS = {
    "campaign_results": {1: "70fec7b6a054a1f5"},
    "campaigns": {1: "84dda528fb3946c5"},
    "events": {1: "daea3de2b94d8fa9"},
    "inbound": {1: "8853b0bcc0f1660b", 2: "8853b0bcc0f1660b"},  # 2: numbers hashed in E.164
    "messages": {1: "7b46f2cb86c2889c"},
    "subscribers": {1: "7f42167746b4ca3f"},
    "ussd_sessions": {1: "20e2bd805c5511d3", 2: "20e2bd805c5511d3"},  # 2: E.164 too
}
DOCS = Path(__file__).resolve().parent.parent / "docs" / "exports.md"


def test_every_dataset_version_has_the_columns_it_was_released_with():
    found = {d.name: (d.version, d.fingerprint()) for d in exports.all_datasets()}
    assert set(found) == set(FINGERPRINTS), "a dataset was added or removed: pin its version here"
    for name, (version, fingerprint) in found.items():
        assert FINGERPRINTS[name].get(version) == fingerprint, (
            f"{name}: its columns changed without a new version (or its version's fingerprint is missing); "
            f"bump its version and add {version if version not in FINGERPRINTS[name] else version + 1}: "
            f"{fingerprint!r}")


def test_docs_exports_md_is_what_the_code_says():
    assert DOCS.read_text(encoding="utf-8") == markdown(), \
        "docs/exports.md is out of date: engage export schema > docs/exports.md"


def test_every_column_is_documented():
    for dataset in exports.all_datasets():
        assert dataset.doc
        assert all(len(c.doc) > 5 for c in dataset.columns), dataset.name


def test_the_files_carry_the_schema_version_and_each_columns_meaning(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    with engine.begin() as conn:
        from engage.engine import events

        events.record_one(conn, "campaign_launched", 7, run=1)
    exports.run(engine, exports.ExportOptions(directory=tmp_path, settle=0), ["events"])
    schema = pq.read_schema(next((tmp_path / "events").rglob("*.parquet")))
    assert schema.metadata[b"schema_version"] == str(exports.get("events").version).encode()
    assert schema.field("kind").metadata[b"doc"].startswith(b"What happened")
