"""The usage feed: how usage records reach scoring. A mediation system (or `engage loyalty feed
FILE`) publishes batches to the broker queue `<prefix>.loyalty.usage`, one AMQP message per batch:

    {"programme": "club", "source": "cdr", "records": [
        {"ref": "cdr-000123", "msisdn": "+998901234567", "kind": "call_out",
         "at": "2027-01-05T09:12:00Z", "amount": 12.5}, ...]}

`source` names the feed: a ref is unique within it, so a replayed file scores nothing. A record that
is wrong (a bad number, an unknown kind) is set aside with its reason and the rest of the batch is
scored; the records set aside go to the queue's dead-letter queue as a batch of their own, with
their reasons, so nothing is lost and they can be fixed and sent again."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from engage.engine.broker.queues import loyalty_usage_queue
from engage.engine.loyalty import programmes, scoring
from engage.engine.loyalty.scoring import Record, ScoreReport

BATCH_RECORDS = 5_000  # records per broker message a file is cut into
SOURCE_MAX = 24  # the entries' source is "usage:<source>", 32 characters at most


class FeedError(ValueError):
    """The message is not a batch at all: it is parked whole."""


def usage_queue() -> str:
    return loyalty_usage_queue()


@dataclass
class UsageBatch:
    programme: str
    source: str
    records: list[Record]
    set_aside: list[dict[str, Any]] = field(default_factory=list)  # the raw records refused, each with "error"


def parse(body: bytes) -> UsageBatch:
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"the message is not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("records"), list):
        raise FeedError("a usage batch is an object with programme, source and a list of records")
    programme, source = message.get("programme"), message.get("source")
    if not isinstance(programme, str) or not programme:
        raise FeedError("programme: the code of the loyalty programme the records are scored for")
    if not isinstance(source, str) or not 1 <= len(source) <= SOURCE_MAX:
        raise FeedError(f"source: the feed's name, 1 to {SOURCE_MAX} characters")
    batch = UsageBatch(programme, source, [])
    for n, raw in enumerate(message["records"], 1):
        try:
            batch.records.append(scoring.record_from(raw, f"record {n}"))
        except ValueError as exc:
            batch.set_aside.append({"record": raw, "error": str(exc)})
    return batch


def score_batch(engine: Engine, batch: UsageBatch) -> ScoreReport:
    """Score a parsed batch in one transaction; FeedError when its programme does not exist."""
    with engine.connect() as conn:
        try:
            programme = programmes.get(conn, batch.programme)
        except LookupError as exc:
            raise FeedError(f"programme: {exc}") from None
    report = scoring.score(engine, programme, batch.source, batch.records)
    report.rejected.extend((str(a["record"].get("ref", "?")) if isinstance(a["record"], dict) else "?", a["error"])
                           for a in batch.set_aside)
    report.records += len(batch.set_aside)
    return report


def set_aside_body(batch: UsageBatch) -> bytes:
    return json.dumps({"programme": batch.programme, "source": batch.source,
                       "records": [a["record"] for a in batch.set_aside],
                       "errors": [a["error"] for a in batch.set_aside]}).encode()


def file_batches(path: Path, programme: str, source: str) -> Iterator[bytes]:
    """A CSV or Parquet file of usage records (columns ref, msisdn, kind, at, amount) as broker
    messages of BATCH_RECORDS records each."""
    from engage.engine.subscribers.importer import open_source

    records: list[dict[str, Any]] = []
    with open_source(path) as rows:
        header = [str(h).strip().lower() for h in rows.header]
        missing = [c for c in ("ref", "msisdn", "kind", "at", "amount") if c not in header]
        if missing:
            raise FeedError(f"{path.name}: the header needs column(s) {', '.join(missing)}")
        for _, cells in rows.records():
            record = dict(zip(header, cells, strict=False))
            with contextlib.suppress(TypeError, ValueError):  # else left as given: scoring names it
                record["amount"] = float(record.get("amount"))
            record["at"] = str(record.get("at"))
            records.append(record)
            if len(records) == BATCH_RECORDS:
                yield _message(programme, source, records)
                records = []
    if records:
        yield _message(programme, source, records)


def _message(programme: str, source: str, records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"programme": programme, "source": source, "records": records}, default=str).encode()
