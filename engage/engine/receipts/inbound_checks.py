"""What providers hand over (receipts, subscribers' messages) checked before it is written: one
item the database cannot hold must not take the batch it came in down with it, batch after batch.

Texts are kept whatever they hold: a NUL or a lone surrogate (PostgreSQL text and UTF-8 have
neither) becomes U+FFFD. An id, a status or an address is not text to be read but a key to match
on and act on, so one that cannot be stored as it came is set aside, with the reason, for a person
(the receipts queue's dead letters), instead of being stored as something else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engage.engine.providers.message_ids import id_problem
from engage.engine.store.id_ranges import MAX_ID

# (provider id, receipts, inbound messages): a receipts broker message, as the receipts worker reads it
Batch = tuple[int, list[dict[str, Any]], list[dict[str, Any]]]
MAX_STAT, MAX_ERR, MAX_ADDRESS = 12, 16, 32  # receipts.stat, receipts.err, inbound_messages.source/destination
MAX_REF = 72  # inbound_messages.provider_ref
MAX_PROVIDER_ID = MAX_ID  # receipts.provider_id, inbound_messages.provider_id
MAX_MESSAGE_ID = 2**63 - 1  # messages.id, which a receipt's "ours" names
REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class Unstorable:
    """One item of a batch that cannot be stored, and why, in words for whoever reads the dead letters."""

    provider_id: int
    kind: str  # "receipt" or "inbound"
    item: dict[str, Any]
    reason: str

    def body(self) -> dict[str, Any]:
        """As a batch of its own, so that a replay of the dead letter is read like any other."""
        return {"provider_id": self.provider_id, "receipts": [self.item] if self.kind == "receipt" else [],
                "inbound": [self.item] if self.kind == "inbound" else []}


def screen(batches: list[Batch]) -> tuple[list[Batch], list[Unstorable]]:
    """The batches without the items that cannot be stored, and those items. A batch with nothing
    wrong is passed on as it is: a few checks per item, no copy."""
    out: list[Batch] = []
    bad: list[Unstorable] = []
    for provider_id, items, inbound in batches:
        problem = provider_problem(provider_id)
        if problem:  # no item of it can be stored: all of them are set aside in one go
            bad += [Unstorable(provider_id, "receipt", r, f"receipt {_quote(_get(r, 'id'))}: {problem}") for r in items]
            bad += [Unstorable(provider_id, "inbound", m, f"message from {_quote(_get(m, 'source'))}: {problem}")
                    for m in inbound]
            continue
        problems = [receipt_problem(r) for r in items]
        if any(problems):
            bad += [Unstorable(provider_id, "receipt", r, f"receipt {_quote(_get(r, 'id'))}: {p}")
                    for r, p in zip(items, problems, strict=True) if p]
            items = [r for r, p in zip(items, problems, strict=True) if not p]
        if inbound:
            kept = []
            for m in inbound:
                problem = inbound_problem(m)
                if problem:
                    bad.append(Unstorable(provider_id, "inbound", m, f"message from {_quote(_get(m, 'source'))}: "
                                                                       f"{problem}"))
                else:
                    kept.append(_clean_text(m))
            inbound = kept
        out.append((provider_id, items, inbound))
    return out, bad


def provider_problem(provider_id: Any) -> str | None:
    if type(provider_id) is not int or not 0 < provider_id <= MAX_PROVIDER_ID:
        return f"provider id {_quote(provider_id)} is not a provider's (an integer from 1 to {MAX_PROVIDER_ID})"
    return None


def receipt_problem(r: Any) -> str | None:
    if type(r) is not dict:
        return "is not an object"
    problem = id_problem(r.get("id"))
    if problem:
        return f"its id {problem}"
    stat, err = r.get("stat"), r.get("err")
    if type(stat) is not str or not stat or len(stat) > MAX_STAT or not stat.isascii() or "\x00" in stat:
        return f"its stat is not a status word of at most {MAX_STAT} letters"
    if err is not None and (type(err) is not str or len(err) > MAX_ERR or "\x00" in err or not err.isascii()):
        return f"its err is not a code of at most {MAX_ERR} characters"
    done_at = r.get("done_at")
    if done_at and not _iso_datetime(done_at):
        return f"its done_at is not an ISO date and time: {_quote(done_at)}"
    ours = r.get("ours")  # the sender's hint at the message; only an integer is taken for one
    if type(ours) is int and not 0 < ours <= MAX_MESSAGE_ID:
        return f"its ours is not a message id: {ours}"
    return None


def _iso_datetime(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def inbound_problem(m: Any) -> str | None:
    if type(m) is not dict:
        return "is not an object"
    for key in ("source", "destination"):
        value = m.get(key)
        if type(value) is not str or not value or len(value) > MAX_ADDRESS or "\x00" in value \
                or not _encodable(value):
            return f"its {key} address is not an address of at most {MAX_ADDRESS} characters"
    if type(m.get("text")) is not str:
        return "its text is not text"
    ref = m.get("provider_ref")
    if ref is not None and (type(ref) is not str or not ref or len(ref) > MAX_REF or "\x00" in ref
                            or not _encodable(ref)):
        return f"its provider_ref is not an id of at most {MAX_REF} characters"
    return None


def _clean_text(m: dict[str, Any]) -> dict[str, Any]:
    text = m["text"]
    if "\x00" not in text and (text.isascii() or _encodable(text)):
        return m
    return {**m, "text": "".join(REPLACEMENT if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text)}


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _get(item: Any, key: str) -> Any:
    return item.get(key) if type(item) is dict else None


def _quote(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
