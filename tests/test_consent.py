"""The opt-out registry: per channel, by number, audited, and untouched by re-imports."""

import pytest
from sqlalchemy import select

from engage.engine import consent
from engage.engine.store.schema import AuditEntry


def test_opting_out_twice_changes_nothing_the_second_time(engine):
    with engine.begin() as conn:
        assert consent.opt_out(conn, ["+998901000001"], "sms", source="keyword", actor="test") == 1
        assert consent.opt_out(conn, ["+998901000001"], "sms", source="keyword", actor="test") == 0
        assert consent.opted_out_channels(conn, "+998901000001") == ["sms"]


def test_opting_in_removes_only_that_channel(engine):
    with engine.begin() as conn:
        consent.opt_out(conn, ["+998901000001"], "sms", source="keyword", actor="test")
        consent.opt_out(conn, ["+998901000001"], "ussd", source="ussd", actor="test")
        assert consent.opt_in(conn, ["+998901000001"], "sms", source="staff", actor="test") == 1
        assert consent.opted_out_channels(conn, "+998901000001") == ["ussd"]


def test_consent_changes_are_in_the_audit_log(engine):
    with engine.begin() as conn:
        consent.opt_out(conn, ["+998901000001", "+998901000002"], "sms", source="keyword", actor="alice")
        consent.opt_in(conn, ["+998901000001"], "sms", source="staff", actor="bob")
        rows = conn.execute(select(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.id)).all()
    assert [tuple(r) for r in rows] == [("alice", "consent.opt_out"), ("bob", "consent.opt_in")]


def test_an_unknown_channel_is_refused_by_name(engine):
    with engine.begin() as conn, pytest.raises(consent.ConsentError, match="channel 'email'"):
        consent.opt_out(conn, ["+998901000001"], "email", source="x", actor="test")


def test_a_large_batch_of_numbers_opts_out_in_chunks(engine):
    numbers = [f"+99890{i:07d}" for i in range(12_000)]
    with engine.begin() as conn:
        assert consent.opt_out(conn, numbers, "sms", source="file", actor="test") == 12_000
        assert consent.opt_out(conn, numbers[:100] + ["+998991111111"], "sms", source="file", actor="test") == 1
