"""Delivery callbacks from HTTP providers, through the web app over real HTTP into a real database."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import insert, select

from engage.engine import campaigns
from engage.engine.providers import (
    KINDS,
    CallbackRequest,
    MalformedCallback,
    OutboundSms,
    ProviderConnection,
    SendOutcome,
)
from engage.engine.providers.base import register
from engage.engine.providers.http_json import HttpJsonProvider, read_receipts
from engage.engine.providers.kannel import KannelProvider, read_dlr
from engage.engine.segments import store as segments
from engage.engine.store.schema import Message, MessagePart, Provider, Receipt
from engage.engine.templates import store as templates
from engage.simulators.http_gateway import fill_dlr_url

TOKEN = "callback-token-0123456789"
MAPPING = {"id_field": "id", "status_field": "status", "error_field": "error_code",
           "status_map": {"delivered": "DELIVRD", "failed": "UNDELIV", "sent": "ACCEPTD"}}


def add_provider(engine, kind: str, base: str) -> dict[str, Any]:
    """A provider row as `engage provider add` stores it: the config as validate_config returned it."""
    if kind == "kannel":
        config = KannelProvider.validate_config({"url": "http://kannel:13013/cgi-bin/sendsms", "username": "u",
                                                 "password": "p", "callback_base": base, "callback_token": TOKEN})
    else:
        config = HttpJsonProvider.validate_config({"url": "https://api.example.com/sms", "body": {"to": "{to}"},
                                                   "callback": MAPPING, "callback_base": base,
                                                   "callback_token": TOKEN})
    with engine.begin() as conn:
        pid = conn.execute(insert(Provider.__table__).values(name=f"{kind}-gw", kind=kind, config=config, tps=100,
                                                             priority=1, enabled=True)).inserted_primary_key[0]
    return {"id": pid, "config": config}


def submitted_message(engine, provider_id: int, part_ids: list[str]) -> int:
    with engine.begin() as conn:
        sid = segments.create(conn, "s", {"field": "city", "value": "X"}, actor="t")
        tid = templates.create(conn, "t", {"en": "hi"}, default_language="en", actor="t")
        cid = campaigns.create(conn, name="c", segment_id=sid, template_id=tid, sender_id="Engage", actor="t")
        mid = conn.execute(insert(Message.__table__).values(
            campaign_id=cid, subscriber_id=1, msisdn="+998901234567", status="submitted", body="hi",
            parts=len(part_ids), provider_id=provider_id)).inserted_primary_key[0]
        conn.execute(insert(MessagePart.__table__), [
            {"message_id": mid, "part_no": i + 1, "provider_id": provider_id, "provider_message_id": p.lower(),
             "status": "submitted"} for i, p in enumerate(part_ids)])
    return mid


def message_status(engine, message_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(Message.status).where(Message.id == message_id)).scalar_one()


def call(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def kannel_dlr(provider: dict[str, Any], our_id: str, dlr_type: int, reply: str = "") -> str:
    """The URL Kannel calls: our dlr-url with its escapes filled in."""
    dlr_url = KannelProvider(provider["id"], "k", provider["config"], 100, None).dlr_url(our_id)
    return fill_dlr_url(dlr_url, {"d": str(dlr_type), "T": "1767225600", "A": reply})


def test_a_kannel_delivery_report_settles_the_message_part_it_names(site):
    engine, base = site
    provider = add_provider(engine, "kannel", base)
    mid = submitted_message(engine, provider["id"], ["41-abcdef12"])
    status, body = call(kannel_dlr(provider, "41-ABCDEF12", 1, "id:x sub:001 dlvrd:001 stat:DELIVRD err:000"))
    assert (status, body) == (200, {"stored": 1})
    assert message_status(engine, mid) == "delivered"
    with engine.connect() as conn:
        receipt = conn.execute(select(Receipt.__table__)).one()
    assert (receipt.stat, receipt.err, receipt.matched) == ("DELIVRD", "000", True)
    assert receipt.done_at.year == 2026


def test_a_kannel_smsc_acknowledgement_is_stored_but_settles_nothing(site):
    engine, base = site
    provider = add_provider(engine, "kannel", base)
    mid = submitted_message(engine, provider["id"], ["42-aa"])
    assert call(kannel_dlr(provider, "42-aa", 8, "ACK/"))[0] == 200
    assert message_status(engine, mid) == "submitted"
    assert call(kannel_dlr(provider, "42-aa", 16, "NACK/0x0000000b/Invalid Destination Address"))[0] == 200
    assert message_status(engine, mid) == "rejected"


def test_a_kannel_callback_also_works_as_a_post(site):
    engine, base = site
    provider = add_provider(engine, "kannel", base)
    mid = submitted_message(engine, provider["id"], ["43-bb"])
    url = kannel_dlr(provider, "43-bb", 2)
    path, query = url.split("?", 1)
    token_part, rest = query.split("&", 1)
    status, _ = call(f"{path}?{token_part}", rest.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and message_status(engine, mid) == "undelivered"


@pytest.mark.parametrize("token", ["wrong-token-0123456789", ""])
def test_a_callback_with_a_bad_token_is_refused_and_stores_nothing(site, token):
    engine, base = site
    provider = add_provider(engine, "kannel", base)
    url = kannel_dlr(provider, "44-cc", 1).replace(f"token={TOKEN}", f"token={token}")
    status, body = call(url)
    assert status == 403 and "token" in body["error"]
    with engine.connect() as conn:
        assert conn.execute(select(Receipt.id)).first() is None


def test_a_callback_for_another_kind_of_provider_is_refused(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    status, _ = call(f"{base}/callbacks/kannel/{provider['id']}?token={TOKEN}&id=1&status=1")
    assert status == 403
    status, _ = call(f"{base}/callbacks/http/999?token={TOKEN}", b"{}")
    assert status == 403


@pytest.mark.parametrize(("query", "field"), [("id=1&status=x", "status"), ("id=1&status=2.5", "status"),
                                              ("status=1", "id"), ("id=1&status=%25d", "status")])
def test_a_malformed_kannel_callback_is_a_400_naming_the_field(site, query, field):
    engine, base = site
    provider = add_provider(engine, "kannel", base)
    status, body = call(f"{base}/callbacks/kannel/{provider['id']}?token={TOKEN}&{query}")
    assert status == 400 and f"{field}:" in body["error"]


def test_a_json_list_of_receipts_settles_each_part_it_names(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    first = submitted_message(engine, provider["id"], ["AB12"])
    with engine.begin() as conn:
        second = conn.execute(insert(Message.__table__).values(
            campaign_id=1, subscriber_id=2, msisdn="+998901234568", status="submitted", parts=1,
            provider_id=provider["id"])).inserted_primary_key[0]
        conn.execute(insert(MessagePart.__table__).values(message_id=second, part_no=1, provider_id=provider["id"],
                                                          provider_message_id="cd34", status="submitted"))
    receipts = [{"id": "ab12", "status": "Delivered"}, {"id": "CD34", "status": "failed", "error_code": 34}]
    status, body = call(f"{base}/callbacks/http/{provider['id']}", json.dumps(receipts).encode(),
                        {"Content-Type": "application/json", "X-Callback-Token": TOKEN})
    assert (status, body) == (200, {"stored": 2})
    assert (message_status(engine, first), message_status(engine, second)) == ("delivered", "undelivered")


@pytest.mark.parametrize(("payload", "words"), [
    (b"not json", "body: not JSON"),
    (b'[{"status": "delivered"}]', "receipt 0: id: missing"),
    (b'{"id": "1"}', "status: missing"),
    (b'["x"]', "must be a JSON object"),
])
def test_a_malformed_json_callback_is_a_400_saying_what_is_wrong(site, payload, words):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    status, body = call(f"{base}/callbacks/http/{provider['id']}?token={TOKEN}", payload)
    assert status == 400 and words in body["error"]


def test_kannel_receipts_read_the_error_from_the_smsc_reply():
    [nack] = read_dlr({"id": "1-a", "status": "16", "smsc_reply": "NACK/0x0000000b/Invalid Destination"})
    [undeliv] = read_dlr({"id": "1-a", "status": "2", "ts": "x", "smsc_reply": "id:9 stat:UNDELIV err:034"})
    assert (nack["stat"], nack["err"]) == ("REJECTD", "0x0000000b")
    assert (undeliv["stat"], undeliv["err"], undeliv["done_at"]) == ("UNDELIV", "034", None)


def test_json_receipts_map_words_case_blind_and_keep_unmapped_ones_as_unknown():
    items = read_receipts({**MAPPING, "items_path": "results", "done_at_field": "at"}, json.dumps({"results": [
        {"id": 7, "status": "SENT", "at": "2026-01-01T10:00:00Z"}, {"id": "8", "status": "weird"},
        {"id": "9", "status": "delivrd"}]}).encode())
    assert [(r["id"], r["stat"]) for r in items] == [("7", "ACCEPTD"), ("8", "UNKNOWN"), ("9", "DELIVRD")]
    assert items[0]["done_at"] == "2026-01-01T10:00:00+00:00"
    with pytest.raises(MalformedCallback, match="results: missing"):
        read_receipts({**MAPPING, "items_path": "results"}, b"{}")


def test_a_kannel_callback_whose_id_holds_a_nul_is_answered_and_the_next_one_settles_its_message(site):
    engine, base = site  # Tornado reads control characters in arguments as spaces: "AB CD" names no part
    provider = add_provider(engine, "kannel", base)
    mid = submitted_message(engine, provider["id"], ["45-dd"])
    assert call(f"{base}/callbacks/kannel/{provider['id']}?token={TOKEN}&id=AB%00CD&status=1")[0] == 200
    assert call(kannel_dlr(provider, "45-dd", 1))[0] == 200
    assert message_status(engine, mid) == "delivered"


@pytest.mark.parametrize(("receipt", "words"), [
    ({"id": "AB\u0000CD", "status": "delivered"}, "receipt 1: id: has a NUL byte"),
    ({"id": "AB", "status": "failed", "error_code": "3\u00004"}, "receipt 1: error_code: has a NUL byte"),
], ids=["id", "error"])
def test_a_json_receipt_holding_a_nul_is_a_400_naming_it_and_the_others_are_not_stored(site, receipt, words):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    payload = json.dumps([{"id": "GOOD1", "status": "delivered"}, receipt]).encode()
    status, body = call(f"{base}/callbacks/http/{provider['id']}?token={TOKEN}", payload)
    assert status == 400 and words in body["error"], body
    with engine.connect() as conn:
        assert conn.execute(select(Receipt.id)).first() is None  # the gateway sends the batch again, fixed


class PigeonPost(ProviderConnection):
    """A provider kind written in this module alone: its gateway reports "<message id> <stat word>"
    lines in a text body. Nothing else in engage knows of it."""

    callback_name = "pigeon"

    async def start(self) -> None:
        """Nothing to connect to."""

    async def send(self, sms: OutboundSms) -> SendOutcome:
        return SendOutcome(sms.id, part_ids=[f"p{sms.id}"])

    async def stop(self) -> None:
        """Nothing to close."""

    @classmethod
    def parse_callback(cls, config: dict[str, Any], request: CallbackRequest) -> list[dict[str, Any]]:
        lines = request.body.decode().split("\n")
        if not all(len(line.split()) == 2 for line in lines):
            raise MalformedCallback("body: each line must be '<message id> <stat>'")
        return [{"id": line.split()[0], "stat": line.split()[1], "err": None, "done_at": None} for line in lines]


@pytest.fixture
def pigeon_kind():
    """PigeonPost registered as a kind for one test, the way a kind's module registers itself."""
    yield register("pigeon")(PigeonPost)
    KINDS.pop("pigeon")


def test_a_kind_added_in_its_own_module_gets_its_callbacks_routed_with_no_other_change(site, pigeon_kind):
    engine, base = site
    with engine.begin() as conn:
        pid = conn.execute(insert(Provider.__table__).values(name="pigeons", kind="pigeon", config={
            "callback_token": TOKEN}, tps=1, priority=1, enabled=True)).inserted_primary_key[0]
    mid = submitted_message(engine, pid, ["P1", "P2"])
    status, body = call(f"{base}/callbacks/pigeon/{pid}?token={TOKEN}", b"p1 DELIVRD\np2 DELIVRD",
                        {"Content-Type": "text/plain"})
    assert (status, body) == (200, {"stored": 2})
    assert message_status(engine, mid) == "delivered"
    status, body = call(f"{base}/callbacks/pigeon/{pid}?token={TOKEN}", b"p1", {"Content-Type": "text/plain"})
    assert status == 400 and "each line" in body["error"]


@pytest.mark.parametrize("name", ["smpp", "nosuchkind"])
def test_a_callback_at_a_name_no_kind_takes_callbacks_at_is_a_404(site, name):
    _engine, base = site
    status, body = call(f"{base}/callbacks/{name}/1?token={TOKEN}", b"{}")
    assert status == 404 and f"/callbacks/{name}/" in body["error"]


def test_a_callback_by_a_method_the_kinds_gateways_do_not_use_is_a_405(site):
    engine, base = site
    provider = add_provider(engine, "http_json", base)
    status, body = call(f"{base}/callbacks/http/{provider['id']}?token={TOKEN}")
    assert status == 405 and "POST" in body["error"]


def test_a_callback_whose_receipts_cannot_be_stored_fails_alone_and_those_written_with_it_are_stored(engine):
    from engage.engine.receipts.callbacks import ReceiptWriter, _Job

    writer = ReceiptWriter(engine)
    jobs = [_Job(1, [{"id": "g1", "stat": "DELIVRD", "err": None, "done_at": None}], Future()),
            _Job(1, [{"id": "b1", "stat": "DELIVRD", "err": None, "done_at": "not a time"}], Future()),
            _Job(1, [{"id": "g2", "stat": "UNDELIV", "err": "034", "done_at": None}], Future())]
    writer._write(jobs)  # the writer thread's step for one group of callers
    good, bad, other = (job.done for job in jobs)
    assert good.result(timeout=10) == 1 and other.result(timeout=10) == 1
    assert isinstance(bad.exception(timeout=10), ValueError)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(Receipt.provider_message_id)).scalars()) == ["g1", "g2"]


def test_callbacks_written_while_the_database_is_away_all_fail_at_once_to_be_sent_again(monkeypatch):
    from engage.engine.receipts import callbacks
    from engage.engine.receipts.callbacks import ReceiptWriter, _Job
    from engage.engine.store.database import make_engine

    tries = []
    store = callbacks.matching.store
    monkeypatch.setattr(callbacks.matching, "store", lambda *a, **k: (tries.append(1), store(*a, **k)))
    writer = ReceiptWriter(make_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere"))
    jobs = [_Job(1, [{"id": f"g{n}", "stat": "DELIVRD", "err": None, "done_at": None}], Future()) for n in range(3)]
    writer._write(jobs)  # the writer thread's step for one group of callers
    assert all(job.done.exception(timeout=0) is not None for job in jobs)
    assert len(tries) == 1  # one try for the group: not one per caller, each waiting on a database that is away
