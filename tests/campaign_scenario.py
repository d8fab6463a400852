"""A campaign set up the way a user does it (CSV import, segment, template, provider,
launch), and the check that the simulator and the database agree message by message."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import Engine, insert, select

from engage.engine import campaigns, sms_encoding
from engage.engine import statuses as st
from engage.engine.providers.records import add_smpp
from engage.engine.segments import store as segments
from engage.engine.smpp.multipart import split_udh
from engage.engine.store.schema import Message, MessagePart, OptOut
from engage.engine.subscribers import import_file as import_csv
from engage.engine.templates import store as templates
from engage.simulators.smsc import SmscSimulator

BODIES = {
    "en": "Hi {{ first_name | default('friend') }}! Your {{ attributes.plan }} plan earns 2x points on top-ups "
          "over 20,000 this week. Reply STOP to opt out. {€}",
    "ru": "Привет, {{ first_name | default('друг') }}! Ваш тариф {{ attributes.plan }}: двойные баллы за пополнение.",
}


def write_subscribers(path: Path, n: int) -> Path:
    lines = ["msisdn,first_name,language,city,plan"]
    for i in range(n):
        lang = "ru" if i % 3 == 0 else "en"
        name = "" if i % 7 == 0 else f"Name{i}"
        lines.append(f"+9989{i % 2}{2000000 + i:07d},{name},{lang},{'Tashkent' if i % 4 else 'Bukhara'},gold")
    lines.append("12345,Broken,en,Tashkent,gold")  # rejected, reported, and nothing else lost
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def launch_campaign(engine: Engine, tmp_path: Path, sim_port: int, n: int, *, opted_out: int = 3,
                    tps: int = 5000, window: int = 16) -> int:
    report = import_csv(engine, write_subscribers(tmp_path / "subs.csv", n), "UZ")
    assert report.imported == n and len(report.rejected) == 1
    with engine.begin() as conn:
        conn.execute(insert(OptOut.__table__), [
            {"msisdn": f"+9989{i % 2}{2000000 + i:07d}", "channel": "sms"} for i in range(1, 1 + opted_out)])
        add_smpp(conn, name="sim", host="127.0.0.1", port=sim_port, system_id="engage", password="secret",
                 tps=tps, binds=2, window=window, actor="test")
        segment_id = segments.create(conn, "all", {"field": "msisdn", "op": "starts_with", "value": "+998"},
                                     actor="test")
        template_id = templates.create(conn, "promo", BODIES, default_language="en", actor="test")
        campaign_id = campaigns.create(conn, name="promo", segment_id=segment_id, template_id=template_id,
                                       sender_id="Engage", actor="test")
    launched = campaigns.launch(engine, campaign_id, actor="test")
    assert launched["recipients"] == n - opted_out, launched
    assert launched["set_aside"] == {"opted_out": opted_out}
    return campaign_id


def wait_until_done(engine: Engine, campaign_id: int, timeout: float = 120.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            counts = campaigns.counts(conn, campaign_id)
        if not any(counts[s] for s in st.IN_FLIGHT):
            return counts
        time.sleep(0.2)
    raise AssertionError(f"campaign {campaign_id} not done after {timeout}s: {counts}")


def assert_simulator_agrees(engine: Engine, sim: SmscSimulator, campaign_id: int) -> None:
    """Every part the simulator accepted is a part the database knows, exactly once; every
    message's parts reassemble to its body; every message's status follows its receipts."""
    received = {r.message_id: r for r in sim.received}
    assert len(received) == len(sim.received), "the simulator handed out a message id twice"
    with engine.connect() as conn:
        msgs = {m.id: m for m in conn.execute(select(Message.__table__).where(Message.campaign_id == campaign_id))}
        parts = conn.execute(select(MessagePart.__table__).where(MessagePart.message_id.in_(list(msgs)))
                             .order_by(MessagePart.message_id, MessagePart.part_no)).all()
    by_message = defaultdict(list)
    for part in parts:
        by_message[part.message_id].append(part)
    assert sorted(p.provider_message_id for p in parts) == sorted(received), "lost or duplicated submits"
    stats = sim.receipt_stats
    for message_id, message in msgs.items():
        if message.status == st.FAILED:
            assert not by_message[message_id] and message.error.startswith("smpp:")
            continue
        got = [received[p.provider_message_id] for p in by_message[message_id]]
        assert got, f"message {message_id} ({message.status}) never reached the simulator"
        assert all(r.destination == message.msisdn.lstrip("+") for r in got)
        text = "".join(sms_encoding.decode(_body(r), r.data_coding) for r in got)
        assert text == message.body, f"message {message_id}: simulator got {text!r}"
        assert len(got) == message.parts
        expected = st.combine_parts([st.RECEIPT_FINAL[stats[r.message_id]] for r in got])
        assert message.status == expected, f"message {message_id}: {message.status}, receipts say {expected}"


def _body(r) -> bytes:  # noqa: ANN001
    if r.esm_class & 0x40:
        return split_udh(r.short_message)[3]
    return r.short_message
