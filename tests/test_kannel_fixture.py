"""The real Kannel the kannel provider kind is tested against (tests/fixtures/kannel.py) works
end to end: Debian's bearerbox and smsbox, relaying over SMPP to the project's SMSC simulator,
delivery reports fetched from the dlr-url a request gives, the status page telling the link's
state. What these show of Kannel's behaviour is what engage's kannel kind is written to."""

from __future__ import annotations

from tests.fixtures.callbacks import CallbackListener, wait_until
from tests.fixtures.kannel import Kannel, http_post

SENDER = "ENGAGE"


def delivered_to(kannel: Kannel, number: str) -> list[str]:
    """The texts the simulator accepted for ``number``."""
    return [m.text for m in kannel.simulator.messages() if m.destination == number]


def test_a_sendsms_get_reaches_the_simulator_as_a_submit_sm(kannel: Kannel) -> None:
    number = kannel.new_number()

    code, body = kannel.sendsms(to=number, text="hello from engage", **{"from": SENDER})

    assert (code, body) == (202, "0: Accepted for delivery")
    assert wait_until(lambda: delivered_to(kannel, number), 10, "the submit_sm") == ["hello from engage"]
    [submit] = kannel.tap.submits(number)
    assert submit.source_addr in (SENDER, SENDER.encode())


def test_a_delivery_report_reaches_the_dlr_url_with_its_type_and_the_smscs_id(
        kannel: Kannel, callbacks: CallbackListener) -> None:
    number = kannel.new_number()
    dlr_url = callbacks.url(mid="engage-1", type="%d", smsc_id="%F")

    code, _ = kannel.sendsms(to=number, text="receipt please", dlr_mask=3, dlr_url=dlr_url, **{"from": SENDER})

    assert code == 202
    [report] = callbacks.wait_for(mid="engage-1")
    [part] = [p for p in kannel.simulator.received if p.destination == number]
    assert report.query == {"mid": "engage-1", "type": "1", "smsc_id": part.message_id}


def test_a_post_in_kannels_format_carries_its_headers_into_the_submit_sm(kannel: Kannel) -> None:
    number = kannel.new_number()
    headers = {"Content-Type": "text/plain; charset=UTF-8", "X-Kannel-Username": kannel.username,
               "X-Kannel-Password": kannel.password, "X-Kannel-To": number, "X-Kannel-From": SENDER,
               "X-Kannel-Coding": "2", "X-Kannel-Priority": "2", "X-Kannel-Validity": "60"}

    code, body = http_post(kannel.sendsms_url, "Привет, engage".encode(), headers)

    assert (code, body) == (202, "0: Accepted for delivery")
    assert wait_until(lambda: delivered_to(kannel, number), 10, "the submit_sm") == ["Привет, engage"]
    [submit] = kannel.tap.submits(number)
    assert (submit.data_coding, submit.priority_flag) == (8, 2)
    assert submit.validity_period  # an absolute time an hour ahead, as Kannel writes it


def test_an_expired_receipt_reaches_the_dlr_url_as_type_34(kannel: Kannel, callbacks: CallbackListener) -> None:
    kannel.tap.receipt_stat = "EXPIRED"
    try:
        kannel.sendsms(to=kannel.new_number(), text="too late", dlr_mask=3,
                       dlr_url=callbacks.url(mid="engage-2", type="%d"), **{"from": SENDER})
        [report] = callbacks.wait_for(mid="engage-2")
    finally:
        kannel.tap.receipt_stat = None

    assert report.query["type"] == "34"  # 0x20 | DLR_FAIL: Kannel 1.4.5's mark of an expired message


def test_the_status_page_shows_the_link_online_then_dead_after_stop_smsc(kannel: Kannel) -> None:
    assert kannel.smsc().state == "online"

    with kannel.link_down("stop"):
        assert kannel.smsc().state == "dead"
        code, body = kannel.sendsms(to=kannel.new_number(), text="nowhere to go", **{"from": SENDER})
        assert (code, body) == (403, "Not routable. Do not try again.")

    assert kannel.smsc().state == "online"


def test_a_cut_link_shows_re_connecting_and_kannel_queues_until_it_is_back(kannel: Kannel) -> None:
    number = kannel.new_number()

    with kannel.link_down("cut"):
        code, body = kannel.sendsms(to=number, text="sent while cut", **{"from": SENDER})
        status = kannel.status()
        assert (code, body) == (202, "3: Queued for later delivery")
        assert (status.smscs[kannel.smsc_id].state, status.sms_sent_queued) == ("re-connecting", 1)
        assert delivered_to(kannel, number) == []

    assert wait_until(lambda: delivered_to(kannel, number), 15, "the queued message") == ["sent while cut"]

