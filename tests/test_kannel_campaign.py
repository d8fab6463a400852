"""A campaign end to end through a real Kannel: the dispatcher, the broker, the send worker's
kannel connection, Kannel to the SMSC simulator, its reports back into the web app. Long
messages arrive whole, every message is settled by its parts' reports, and each submit carries
the campaign run's deadline as its validity and the campaign as Kannel's account."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import insert, select

from engage.engine import campaigns
from engage.engine.providers.records import add_provider
from engage.engine.segments import store as segments
from engage.engine.store.schema import CampaignRun, Message, Subscriber
from engage.engine.templates import store as templates
from tests.campaign_scenario import wait_until_done
from tests.fixtures.backends import running_workers
from tests.fixtures.callbacks import wait_until
from tests.fixtures.kannel import Kannel
from tests.fixtures.web import serving
from tests.kannel_rig import provider_config, smpp_time

RECIPIENTS = 12
LONG = ("Hi {{ first_name }}! Top up 20 000 this week and every sum of your top-ups earns double points, "
        "[5€] bonus on Sunday; reply STOP to opt out of these messages. ") * 2


def launch(engine, kannel: Kannel, callback_base: str, method: str) -> tuple[int, list[str]]:  # noqa: ANN001
    numbers = [kannel.new_number() for _ in range(RECIPIENTS)]
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"id": i + 1, "msisdn": f"+{n}", "first_name": f"Name{i}", "language": "en", "attributes": {}}
            for i, n in enumerate(numbers)])
        add_provider(conn, name="kannel", kind="kannel", tps=1000, actor="test",
                     config=provider_config(kannel, callback_base, method=method))
        segment_id = segments.create(conn, "all", {"field": "msisdn", "op": "starts_with", "value": "+4917"},
                                     actor="test")
        template_id = templates.create(conn, "long", {"en": LONG}, default_language="en", actor="test")
        campaign_id = campaigns.create(conn, name="long", segment_id=segment_id, template_id=template_id,
                                       sender_id="ENGAGE", actor="test", deadline_minutes=45)
    assert campaigns.launch(engine, campaign_id, actor="test")["recipients"] == RECIPIENTS
    return campaign_id, numbers


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_campaign_of_long_messages_through_kannel_is_delivered_whole_within_its_deadline(backend, kannel: Kannel,
                                                                                           method):
    engine, broker_url, _ = backend
    with serving(engine) as base:
        campaign_id, numbers = launch(engine, kannel, base, method)
        with running_workers(engine, broker_url):
            counts = wait_until_done(engine, campaign_id, timeout=90)
    assert counts["delivered"] == RECIPIENTS, counts
    with engine.connect() as conn:
        sent = {m.msisdn: m for m in conn.execute(select(Message.msisdn, Message.body, Message.parts).where(
            Message.campaign_id == campaign_id))}
        deadline = conn.execute(select(CampaignRun.expires_at).where(CampaignRun.campaign_id == campaign_id)).scalar()
    assert min(m.parts for m in sent.values()) >= 2
    deadline = deadline.replace(tzinfo=UTC) if deadline.tzinfo is None else deadline
    for number in numbers:
        message = sent[f"+{number}"]
        assert [m.text for m in kannel.simulator.messages() if m.destination == number] == [message.body]
        submits = kannel.tap.submits(number)
        assert len(submits) == message.parts
        assert all(abs(smpp_time(s.validity_period) - deadline) <= timedelta(minutes=1, seconds=5) for s in submits)

    def logged(number: str) -> list[str]:
        return [line for line in kannel.log("bearerbox-access").splitlines()
                if " Sent SMS " in line and f"[to:+{number}]" in line]

    wait_until(lambda: all(len(logged(n)) == sent[f"+{n}"].parts for n in numbers), 10,
               "Kannel's access log of every part")
    assert all(f"[ACT:{campaign_id}]" in line for n in numbers for line in logged(n))
