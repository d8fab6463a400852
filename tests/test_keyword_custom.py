"""Operators' own keywords, per short code: each step (tag, static list, profile field, answered,
webhook) does its part for every MO that matches; a keyword is checked whole when saved; a failing
step undoes only itself; "test a text" says what would happen without doing it."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import insert, select

from engage.engine.campaigns.records import answers, summary
from engage.engine.keywords import editing, trial, webhooks
from engage.engine.keywords.editing import KeywordError
from engage.engine.keywords.handling import handle_pending
from engage.engine.store.schema import (
    Event,
    InboundMessage,
    OptOut,
    StaticList,
    StaticListMember,
    Subscriber,
    SubscriberTag,
)
from tests.subscriber_story import AZIZ, add_people, message_and_reply

NUMBER = "+998901234560"


def _mo(engine, text: str, destination: str = "4455", source: str = NUMBER) -> int:  # noqa: ANN001
    with engine.begin() as conn:
        return conn.execute(insert(InboundMessage.__table__).values(
            provider_id=1, source=source.lstrip("+"), destination=destination, text=text,
            handled=False)).inserted_primary_key[0]


def _keyword(engine, **values) -> int:  # noqa: ANN001, ANN003
    with engine.begin() as conn:
        return editing.save(conn, values, actor="admin@x")


def _subscriber(engine, number: str = NUMBER) -> int:  # noqa: ANN001
    with engine.begin() as conn:
        return conn.execute(insert(Subscriber.__table__).values(msisdn=number, attributes={})).inserted_primary_key[0]


def _events(engine, kind: str) -> list[dict]:  # noqa: ANN001
    with engine.connect() as conn:
        return [e.data for e in conn.execute(select(Event).where(Event.kind == kind).order_by(Event.id))]


def test_a_keyword_tags_the_subscriber_who_texts_it(engine):
    sid = _subscriber(engine)
    _keyword(engine, word="join", short_code="4455", steps=[{"kind": "tag", "tag": "quiz"}])
    _mo(engine, " Join! ")
    handle_pending(engine)
    with engine.connect() as conn:
        assert conn.execute(select(SubscriberTag.tag).where(SubscriberTag.subscriber_id == sid)).scalars().all() \
            == ["quiz"]


def test_a_keyword_answers_only_on_its_own_short_code(engine):
    _subscriber(engine)
    _keyword(engine, word="JOIN", short_code="4455", steps=[{"kind": "tag", "tag": "quiz"}])
    _mo(engine, "JOIN", destination="7700")
    handle_pending(engine)
    assert _events(engine, "keyword")[0]["outcome"] == "unknown"


def test_a_keyword_adds_the_number_to_a_static_list_subscriber_or_not(engine):
    with engine.begin() as conn:
        list_id = conn.execute(insert(StaticList.__table__).values(name="vip", created_by="t")).inserted_primary_key[0]
    _keyword(engine, word="VIP", steps=[{"kind": "list", "list_id": list_id}])
    _mo(engine, "vip")
    handle_pending(engine)
    with engine.connect() as conn:
        assert conn.execute(select(StaticListMember.msisdn)).scalars().all() == [NUMBER]


def test_a_keyword_sets_a_profile_field_to_the_words_after_it(engine):
    sid = _subscriber(engine)
    _keyword(engine, word="BDAY", steps=[{"kind": "field", "field": "birth_date"}])
    _mo(engine, "BDAY 1990-05-01")
    handle_pending(engine)
    with engine.connect() as conn:
        assert str(conn.execute(select(Subscriber.birth_date).where(Subscriber.id == sid)).scalar_one()) \
            == "1990-05-01"


def test_a_field_value_the_field_cannot_hold_is_told_and_changes_nothing(engine):
    _subscriber(engine)
    _keyword(engine, word="BDAY", steps=[{"kind": "field", "field": "birth_date"}])
    _mo(engine, "BDAY someday")
    handle_pending(engine)
    assert "birth_date" in _events(engine, "keyword")[0]["why"]


def test_an_operators_alias_for_stop_opts_out(engine):
    with engine.begin() as conn:
        stop = next(k for k in editing.list_all(conn) if k["word"] == "STOP")
    with engine.begin() as conn:
        editing.save(conn, {"aliases": ["ХВАТИТ"]}, actor="admin@x", keyword_id=stop["id"])
    _mo(engine, "хватит")
    handle_pending(engine)
    with engine.connect() as conn:
        assert conn.execute(select(OptOut.msisdn)).scalars().all() == [NUMBER]


def test_a_step_that_fails_undoes_only_itself(engine):
    sid = _subscriber(engine)
    with engine.begin() as conn:
        list_id = conn.execute(insert(StaticList.__table__).values(name="gone", created_by="t")).inserted_primary_key[0]
    _keyword(engine, word="WIN", steps=[{"kind": "list", "list_id": list_id}, {"kind": "tag", "tag": "winner"}])
    with engine.begin() as conn:  # the list is deleted after the keyword was saved
        conn.execute(StaticList.__table__.delete())
    _mo(engine, "WIN")
    handle_pending(engine)
    event = _events(engine, "keyword")[0]
    assert event["listed"] is None and event["tagged"] == "winner"
    with engine.connect() as conn:
        assert conn.execute(select(SubscriberTag.tag).where(SubscriberTag.subscriber_id == sid)).scalars().all() \
            == ["winner"]


@pytest.mark.parametrize("values, field", [
    ({"word": "two words"}, "word"),
    ({"word": "STOP"}, "word"),
    ({"word": "WIN", "steps": [{"kind": "teleport"}]}, "step 1"),
    ({"word": "WIN", "steps": [{"kind": "tag"}]}, "step 1 (tag)"),
    ({"word": "WIN", "steps": [{"kind": "webhook", "url": "ftp://x"}]}, "step 1 (webhook)"),
    ({"word": "WIN", "reply_template_id": 999}, "reply_template_id"),
    ({"word": "WIN", "colour": "red"}, "body"),
])
def test_a_keyword_that_cannot_work_is_refused_naming_the_field(engine, values, field):
    with pytest.raises(KeywordError) as caught, engine.begin() as conn:
        editing.save(conn, values, actor="admin@x")
    assert field in caught.value.problems


def test_the_same_word_twice_on_one_short_code_is_refused(engine):
    _keyword(engine, word="WIN", short_code="4455")
    with pytest.raises(KeywordError, match="already answers"), engine.begin() as conn:
        editing.save(conn, {"word": "win", "short_code": "4455"}, actor="admin@x")


def test_stop_cannot_be_turned_off_or_deleted(engine):
    with engine.begin() as conn:
        stop = next(k for k in editing.list_all(conn) if k["word"] == "STOP")
    with pytest.raises(KeywordError, match="always on"), engine.begin() as conn:
        editing.save(conn, {"enabled": False}, actor="admin@x", keyword_id=stop["id"])
    with pytest.raises(KeywordError, match="built in"), engine.begin() as conn:
        editing.remove(conn, stop["id"], actor="admin@x")


def test_a_turned_off_help_is_just_a_word(engine):
    with engine.begin() as conn:
        help_ = next(k for k in editing.list_all(conn) if k["word"] == "HELP")
    with engine.begin() as conn:
        editing.save(conn, {"enabled": False}, actor="admin@x", keyword_id=help_["id"])
    _mo(engine, "HELP")
    handle_pending(engine)
    assert _events(engine, "keyword")[0]["outcome"] == "unknown"


def test_testing_a_text_says_what_would_happen_and_does_nothing(engine):
    _keyword(engine, word="JOIN", short_code="4455", steps=[{"kind": "tag", "tag": "quiz"}])
    with engine.begin() as conn:
        join = trial.explain(conn, "join now", "4455")
        stop = trial.explain(conn, "СТОП", "4455", language="ru")
        other = trial.explain(conn, "join", "7700")
    assert join["keyword"] == "JOIN" and join["does"] == ["Tag the subscriber: tag=quiz"]
    assert stop["keyword"] == "STOP" and stop["reply"].startswith("Вы отписаны")
    assert other["keyword"] is None and "nothing done" in other["verdict"]
    with engine.connect() as conn:
        assert conn.execute(select(OptOut.msisdn)).first() is None


class _Hook(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        _Hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def test_a_webhook_receives_the_mo_after_it_is_handled_and_its_result_is_an_event(engine):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.bodies = []
    try:
        _keyword(engine, word="QUIZ", steps=[{"kind": "webhook", "url": f"http://127.0.0.1:{server.server_port}/mo"}])
        inbound_id = _mo(engine, "QUIZ B")
        handle_pending(engine)
        deadline = time.monotonic() + 10
        while not _events(engine, "keyword_webhook"):
            assert time.monotonic() < deadline, "no keyword_webhook event"
            time.sleep(0.02)
    finally:
        server.shutdown()
    assert _Hook.bodies == [{"inbound_id": inbound_id, "keyword": "QUIZ", "from": NUMBER, "to": "4455",
                             "text": "QUIZ B", "received_at": _Hook.bodies[0]["received_at"], "campaign_id": None}]
    assert _events(engine, "keyword_webhook")[0]["status"] == 204


class _Flaky(BaseHTTPRequestHandler):
    """Answers each POST with the next status of `answers` (then 200)."""
    answers: list[int] = []
    calls = 0

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        _Flaky.calls += 1
        self.send_response(_Flaky.answers.pop(0) if _Flaky.answers else 200)
        self.end_headers()

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def _webhook_tries(engine, answers: list[int], want: int, monkeypatch, query: str = "") -> list[dict]:  # noqa: ANN001
    """The keyword_webhook events of one MO to a service answering `answers`, once `want` are recorded."""
    monkeypatch.setattr(webhooks, "RETRY_AFTER", (0.05, 0.05))
    server = HTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Flaky.answers, _Flaky.calls = list(answers), 0
    try:
        _keyword(engine, word="QUIZ", steps=[{"kind": "webhook",
                                               "url": f"http://127.0.0.1:{server.server_port}/mo{query}"}])
        _mo(engine, "QUIZ B")
        handle_pending(engine)
        deadline = time.monotonic() + 10
        while len(_events(engine, "keyword_webhook")) < want:
            assert time.monotonic() < deadline, "not as many keyword_webhook events as wanted"
            time.sleep(0.02)
    finally:
        server.shutdown()
    return _events(engine, "keyword_webhook")


def test_a_webhook_the_service_fails_for_now_is_tried_again_until_it_takes_it(engine, monkeypatch):
    tries = _webhook_tries(engine, [503, 502], 3, monkeypatch)
    assert [(t["attempt"], t["status"], t.get("retry_in_s")) for t in tries] == [
        (1, 503, 0.05), (2, 502, 0.05), (3, 200, None)]


def test_a_webhook_the_service_refuses_is_not_tried_again(engine, monkeypatch):
    [only] = _webhook_tries(engine, [400], 1, monkeypatch)
    assert (only["status"], only["attempt"], "retry_in_s" in only) == (400, 1, False)  # no further try scheduled


def test_a_webhook_is_recorded_without_the_key_in_its_url(engine, monkeypatch):
    [done] = _webhook_tries(engine, [], 1, monkeypatch, query="?key=s3cr3t")
    assert done["url"].endswith("/mo?…")
    assert all("s3cr3t" not in json.dumps(e) for e in _events(engine, "keyword") + [done])


def test_a_keyword_with_the_answered_step_is_counted_on_the_campaign_it_answers(engine):
    add_people(engine)
    story = message_and_reply(engine, AZIZ)
    _keyword(engine, word="YES", steps=[{"kind": "answered"}])
    _mo(engine, "yes", destination="5555", source=AZIZ)
    _mo(engine, "maybe", destination="5555", source=AZIZ)
    handle_pending(engine)
    with engine.connect() as conn:
        assert answers(conn, story["campaign_id"]) == {"YES": 1}
        assert summary(conn, story["campaign_id"])["replied"] == 1
