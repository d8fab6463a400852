"""The opt-out registry, per channel. An opted-out number is in no audience whatever its segment
says. It is keyed by number, not by subscriber row, and kept apart from the profile, so that a
re-import, a deleted and re-created subscriber or a number not yet imported cannot undo it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, select

from engage.engine.audit import audit
from engage.engine.store.bulk import insert_rows
from engage.engine.store.schema import OptOut

CHANNELS = ("sms", "ussd")
CHUNK = 5000  # numbers per IN (...): SQLite binds at most 32766 parameters


class ConsentError(ValueError):
    pass


def _check(channel: str) -> str:
    if channel not in CHANNELS:
        raise ConsentError(f"channel {channel!r}: one of {', '.join(CHANNELS)}")
    return channel


def opt_out(conn: Connection, numbers: Iterable[str], channel: str, *, source: str, actor: str) -> int:
    """Numbers (E.164) opted out of the channel; returns how many were not opted out before."""
    _check(channel)
    wanted = sorted(set(numbers))
    if not wanted:
        return 0
    already: set[str] = set()
    for i in range(0, len(wanted), CHUNK):
        already.update(conn.execute(select(OptOut.msisdn).where(
            OptOut.channel == channel, OptOut.msisdn.in_(wanted[i:i + CHUNK]))).scalars())
    new = [n for n in wanted if n not in already]
    insert_rows(conn, OptOut.__table__, [{"msisdn": n, "channel": channel, "source": source[:64]} for n in new])
    if new:
        audit(conn, actor, "consent.opt_out", "channel", channel, numbers=len(new), source=source)
    return len(new)


def opt_in(conn: Connection, numbers: Iterable[str], channel: str, *, source: str, actor: str) -> int:
    """Only a person's own request (or staff acting on it) should call this: it is audited."""
    _check(channel)
    wanted = sorted(set(numbers))
    removed = sum(conn.execute(delete(OptOut.__table__).where(
        OptOut.channel == channel, OptOut.msisdn.in_(wanted[i:i + CHUNK]))).rowcount
        for i in range(0, len(wanted), CHUNK))
    if removed:
        audit(conn, actor, "consent.opt_in", "channel", channel, numbers=removed, source=source)
    return removed


def opted_out_channels(conn: Connection, number: str) -> list[str]:
    return sorted(conn.execute(select(OptOut.channel).where(OptOut.msisdn == number)).scalars())
