"""Each shipped action, walked to through a menu on SQLite and PostgreSQL: consent, language,
profile fields, call-back requests, and an outside HTTP service (a real one on loopback) with its
timeout and fallback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from engage.engine.store.schema import OptOut, Subscriber, SubscriberTag
from engage.engine.ussd.actions import ACTIONS, ActionCall, Outcome, ussd_action
from tests.ussd_helpers import Phone, add_subscriber, events_of, put_menu, steps

NUMBER = "+998901234567"


def action_menu(action: str, params: str = "{}", on: str = "{ok: done}", extra: str = "") -> str:
    return f"""
        screens:
          go:
            type: action
            action: {action}
            params: {params}
            on: {on}
            default: other
          done:
            type: end
            text: "Done {{{{ language }}}}"
          other:
            type: end
            text: "Other"
        {extra}
    """


def opted_out(engine, channel: str = "sms") -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(OptOut.msisdn).where(OptOut.channel == channel)).scalars())


def subscriber(engine, number: str = NUMBER):
    with engine.connect() as conn:
        return conn.execute(select(Subscriber).where(Subscriber.msisdn == number)).mappings().one()


def test_opt_out_puts_the_number_in_the_opt_out_registry(engine):
    put_menu(engine, action_menu("opt_out"))
    assert Phone(engine).dial().text.startswith("Done")
    assert opted_out(engine) == [NUMBER]
    with engine.connect() as conn:
        assert conn.execute(select(OptOut.source)).scalar() == "ussd"


def test_opt_out_of_ussd_is_its_own_channel(engine):
    put_menu(engine, action_menu("opt_out", "{channel: ussd}"))
    Phone(engine).dial()
    assert (opted_out(engine, "ussd"), opted_out(engine, "sms")) == ([NUMBER], [])


def test_opt_in_takes_the_number_out_of_the_registry(engine):
    put_menu(engine, action_menu("opt_out"), code="*1#", name="out")
    put_menu(engine, action_menu("opt_in"), code="*2#", name="in")
    Phone(engine, code="*1#").dial()
    Phone(engine, code="*2#").dial()
    assert opted_out(engine) == []


def test_set_language_changes_the_subscribers_language_and_the_sessions(engine):
    add_subscriber(engine, NUMBER, language="en")
    put_menu(engine, action_menu("set_language", "{language: ru}"))
    assert Phone(engine).dial().text == "Done ru"
    assert subscriber(engine)["language"] == "ru"


def test_set_field_stores_a_profile_field_from_an_input(engine):
    add_subscriber(engine, NUMBER)
    put_menu(engine, """
        screens:
          birthday:
            type: input
            text: Birthday?
            validate: date
            next: save
          save:
            type: action
            action: set_field
            params: {field: birth_date, value: "{{ birthday }}"}
            on: {ok: done}
            default: other
          done:
            type: end
            text: "Saved {{ birth_date }}"
          other:
            type: end
            text: Other
    """)
    assert Phone(engine).walk("17.05.1990").text == "Saved 1990-05-17"
    assert str(subscriber(engine)["birth_date"]) == "1990-05-17"


def test_set_field_for_a_number_that_is_not_a_subscriber_creates_no_profile(engine):
    put_menu(engine, action_menu("set_field", "{field: city, value: Tashkent}", "{not_subscriber: done}"))
    Phone(engine).dial()
    with engine.connect() as conn:
        assert conn.execute(select(Subscriber.id)).first() is None


def test_set_field_with_a_value_the_field_cannot_hold_is_the_outcome_invalid(engine):
    add_subscriber(engine, NUMBER)
    put_menu(engine, action_menu("set_field", "{field: gender, value: \"{{ msisdn }}\"}", "{invalid: done}"))
    assert Phone(engine).dial().text.startswith("Done")


def test_callback_tags_the_subscriber_and_records_an_event_for_support(engine):
    add_subscriber(engine, NUMBER)
    put_menu(engine, action_menu("callback", "{note: from the menu}"))
    Phone(engine).dial()
    with engine.connect() as conn:
        assert list(conn.execute(select(SubscriberTag.tag)).scalars()) == ["callback requested"]
    [event] = events_of(engine, "ussd_callback")
    assert (event["msisdn"], event["note"], event["menu"]) == (NUMBER, "from the menu", "Test menu")


def test_callback_from_a_number_that_is_not_a_subscriber_still_reaches_support(engine):
    put_menu(engine, action_menu("callback"))
    assert Phone(engine).dial().text.startswith("Done")
    assert [e["msisdn"] for e in events_of(engine, "ussd_callback")] == [NUMBER]


def test_an_action_that_raises_is_the_outcome_failed_and_undoes_its_writes(engine):
    @ussd_action("test_explodes")
    def explodes(call: ActionCall) -> Outcome:
        call.conn.execute(OptOut.__table__.insert().values(msisdn=call.msisdn, channel="sms"))
        raise RuntimeError("boom")

    try:
        put_menu(engine, action_menu("test_explodes", on="{ok: done, failed: other}"))
        assert Phone(engine).dial().text == "Other"
        assert opted_out(engine) == []
    finally:
        del ACTIONS["test_explodes"]


def test_an_action_registered_by_another_module_is_called_with_rendered_params(engine):
    @ussd_action("test_balance", params=("unit",))
    def balance(call: ActionCall) -> Outcome:
        return Outcome("ok", {"balance": 1250, "unit": call.params["unit"]})

    try:
        put_menu(engine, """
            screens:
              ask:
                type: action
                action: test_balance
                params: {unit: "{{ 'pts' | upper }}"}
                on: {ok: show}
              show:
                type: end
                text: "You have {{ balance }} {{ unit }}"
        """)
        assert Phone(engine).dial().text == "You have 1250 PTS"
    finally:
        del ACTIONS["test_balance"]


# --- call_http, against a real HTTP server on loopback -------------------------------------------

class Service:
    """A billing service: /bill answers a bill, /broke an outcome of its own, /down a 500, /html no
    JSON, /slow nothing until the test is over. Keeps every request's JSON body."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.release = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                service.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                if self.path == "/slow":
                    service.release.wait(10)
                answers = {"/bill": (200, {"amount_due": "12500", "due_date": "31.12"}),
                           "/broke": (200, {"outcome": "insufficient"}), "/down": (500, {"error": "down"})}
                status, answer = answers.get(self.path, (200, None))
                raw = b"<html>no</html>" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service() -> Iterator[Service]:
    running = Service()
    yield running
    running.close()


def http_menu(url: str, timeout: float = 2) -> str:
    return f"""
        screens:
          account:
            type: input
            text: Account?
            validate: digits
            next: ask
          ask:
            type: action
            action: call_http
            params: {{url: "{url}", timeout: {timeout}}}
            on: {{ok: bill, insufficient: poor, failed: fallback}}
          bill:
            type: end
            text: "Due {{{{ amount_due }}}} by {{{{ due_date }}}}"
          poor:
            type: end
            text: Not enough money
          fallback:
            type: end
            text: Billing is down
    """


def test_call_http_posts_the_number_and_values_and_shows_what_the_service_answers(engine, service):
    put_menu(engine, http_menu(f"{service.url}/bill"))
    phone = Phone(engine)
    assert phone.walk("777").text == "Due 12500 by 31.12"
    [body] = service.bodies
    assert (body["msisdn"], body["menu"], body["values"]) == (NUMBER, "Test menu", {"account": "777"})
    assert body["session"] == phone.session()["id"]


def test_call_http_routes_on_the_outcome_the_service_names(engine, service):
    put_menu(engine, http_menu(f"{service.url}/broke"))
    assert Phone(engine).walk("1").text == "Not enough money"


@pytest.mark.parametrize("path", ["/down", "/html"])
def test_call_http_that_fails_goes_to_the_fallback_screen(engine, service, path):
    put_menu(engine, http_menu(f"{service.url}{path}"))
    assert Phone(engine).walk("1").text == "Billing is down"


def test_call_http_that_does_not_answer_in_time_goes_to_the_fallback_screen(engine, service):
    put_menu(engine, http_menu(f"{service.url}/slow", timeout=0.3))
    phone = Phone(engine)
    phone.dial()
    assert phone.send("1").text == "Billing is down"
    assert steps(engine)[-1]["duration_ms"] < 2000


def test_call_http_to_a_closed_port_goes_to_the_fallback_screen(engine):
    put_menu(engine, http_menu("http://127.0.0.1:9/nothing"))
    assert Phone(engine).walk("1").text == "Billing is down"


def test_call_http_never_sends_a_pin_it_was_not_told_to(engine, service):
    put_menu(engine, f"""
        screens:
          pin:
            type: input
            text: PIN?
            validate: pin
            next: ask
          ask:
            type: action
            action: call_http
            params: {{url: "{service.url}/bill"}}
            on: {{ok: done, failed: done}}
          done:
            type: end
            text: Done
    """)
    Phone(engine).walk("4321")
    assert service.bodies[0]["values"] == {}
