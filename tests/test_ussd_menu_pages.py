"""The USSD pages over real HTTP, on both databases: the menu list, the editor (a save checked whole
by the engine: each error with its line and screen, the text kept as typed, a 400), the tree and
the drop-off funnel of a saved menu, and the phone emulator's endpoint walking a menu through
dialog.step. Support and analysts read; admin and marketer of no branch change and try.

(tests/test_ussd_pages.py is the engine's: a screen's pages, "98 More".)"""

from __future__ import annotations

import html
import re
import textwrap
import urllib.parse

import pytest
from sqlalchemy import select

from engage.engine.store.schema import AuditEntry
from engage.engine.ussd import emulator, menus
from tests.fixtures.web import Browser, serving, signed_in
from tests.ussd_helpers import Phone, put_menu

CLUB = textwrap.dedent("""\
    # two levels: home -> offers
    name: Club
    screens:
      home:
        type: menu
        text: Welcome to the club
        options:
          - label: Offers
            next: offers
          - label: Exit
            next: bye
      offers:
        type: menu
        text: Offers
        options:
          - label: Data bundle
            next: bye
      bye:
        type: end
        text: Goodbye
""")
BROKEN = textwrap.dedent("""\
    # line 11 sends option 2 to a screen that does not exist; line 14 names an action no one registered
    name: Broken
    screens:
      home:
        type: menu
        text: Hello
        options:
          - label: Balance
            next: balance
          - label: Exit
            next: byebye
      balance:
        type: action
        action: no_such_action
        default: bye
      bye:
        type: end
        text: Bye
""")


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    with serving(engine) as base:
        yield engine, base


def menu_form(document: str, code: str = "*123#") -> dict[str, str]:
    return {"document": document, "code": code}


def textarea(page: str) -> str:
    """What the editor's textarea holds, as the browser reads it (the newline after the tag is not text)."""
    raw = re.search(r'<textarea name="document"[^>]*>\n(.*?)</textarea>', page, re.S).group(1)
    return html.unescape(raw)


def tree_rows(page: str) -> list[tuple[str, str]]:
    """(depth, text) of each line of the tree, tags dropped."""
    rows = re.findall(r'<li class="node[^"]*" data-screen="[^"]*" data-depth="(\d+)"[^>]*>(.*?)</li>', page, re.S)
    return [(depth, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()) for depth, body in rows]


def test_the_list_shows_each_menu_with_its_code_and_screens_linking_to_it(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    page = signed_in(engine, base, "support").get("/menus")
    assert page.status == 200
    row = re.search(rf'<tr data-menu="{menu_id}">(.*?)</tr>', page.body, re.S).group(1)
    assert f'<a href="/menus/{menu_id}">Club</a>' in row
    assert '<td class="code">*123#</td>' in row and '<td class="num screens">3</td>' in row
    assert '<td class="active">yes</td>' in row and "by test" in row


def test_a_marketer_saves_a_new_menu_and_is_sent_to_its_page(web):
    engine, base = web
    browser = signed_in(engine, base, "marketer")
    saved = browser.post_form("/menus/new", menu_form(CLUB, code="*150#"))
    with engine.connect() as conn:
        found = menus.for_code(conn, "*150#")
    assert found is not None and found.name == "Club"
    assert saved.status == 303 and saved.headers["Location"] == f"/menus/{found.id}?saved=1"
    page = browser.get(saved.headers["Location"])
    assert "Menu saved." in page.body and textarea(page.body) == CLUB


def test_a_saved_menu_shows_its_screens_as_a_tree_of_options(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    page = signed_in(engine, base, "analyst").get(f"/menus/{menu_id}")
    assert tree_rows(page.body) == [
        ("0", "home menu Welcome to the club"),
        ("1", "1. Offers → offers menu Offers"),
        ("2", "1. Data bundle → bye end Goodbye ends"),
        ("1", "2. Exit → ↩ bye (above)"),
    ]


def test_saving_is_in_the_audit_log_under_the_user(web):
    engine, base = web
    signed_in(engine, base, "admin").post_form("/menus/new", menu_form(CLUB))
    with engine.connect() as conn:
        entry = conn.execute(select(AuditEntry.actor, AuditEntry.details)
                             .where(AuditEntry.action == "ussd_menu.create")).one()
    assert entry.actor == "admin@example.com" and entry.details["code"] == "*123#"


def test_an_invalid_menu_is_refused_with_each_error_at_its_screen_and_line(web):
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/menus/new", menu_form(BROKEN))
    assert page.status == 400
    errors = [(line, screen, html.unescape(message)) for line, screen, message in re.findall(
        r'<li data-line="(\d+)" data-screen="([^"]*)">.*?<span class="message">(.*?)</span>', page.body, re.S)]
    assert any(line == "11" and screen == "home" and "unknown next screen 'byebye'" in message
               for line, screen, message in errors)
    assert any(line == "14" and screen == "balance" and "no_such_action" in message
               for line, screen, message in errors)
    assert "The menu was not saved" in page.body
    with engine.connect() as conn:
        assert menus.count(conn) == 0


def test_a_refused_menu_keeps_the_text_as_typed(web):
    engine, base = web
    typed = BROKEN.replace("Hello", 'Hello <b>"friend"</b> & co')
    page = signed_in(engine, base, "admin").post_form("/menus/new", menu_form(typed, code="*150#"))
    assert page.status == 400
    assert textarea(page.body) == typed
    assert 'value="*150#"' in page.body


def test_a_menu_without_a_name_is_refused_saying_where_to_give_one(web):
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/menus/new", menu_form(CLUB.replace("name: Club\n", "")))
    assert page.status == 400 and "name: the menu needs a name" in html.unescape(page.body)


def test_a_code_that_is_not_a_service_code_is_refused_naming_it(web):
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/menus/new", menu_form(CLUB, code="123"))
    assert page.status == 400 and "code '123': a USSD service code" in html.unescape(page.body)


def test_a_menu_given_a_new_name_in_its_document_is_renamed_in_place(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    renamed = CLUB.replace("name: Club", "name: VIP club")
    saved = signed_in(engine, base, "admin").post_form(f"/menus/{menu_id}", menu_form(renamed))
    assert saved.headers["Location"] == f"/menus/{menu_id}?saved=1"
    with engine.connect() as conn:
        assert [(m["id"], m["name"]) for m in menus.listed(conn)] == [(menu_id, "VIP club")]


def test_a_menu_may_not_take_another_menus_name(web):
    engine, base = web
    put_menu(engine, CLUB, code="*123#")
    other = put_menu(engine, CLUB.replace("Club", "Other"), code="*124#")
    page = signed_in(engine, base, "admin").post_form(f"/menus/{other}", menu_form(CLUB, code="*124#"))
    assert page.status == 400 and "is called 'Club' already" in html.unescape(page.body)
    with engine.connect() as conn:
        assert {m["name"]: m["code"] for m in menus.listed(conn)} == {"Club": "*123#", "Other": "*124#"}


def test_the_menu_page_shows_how_many_sessions_reached_and_left_each_screen(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    Phone(engine).walk("1", "1")
    Phone(engine).walk("2")
    Phone(engine, msisdn="+998901234568").walk("1")  # still open, on offers
    page = signed_in(engine, base, "analyst").get(f"/menus/{menu_id}")
    assert "3 sessions in the last 30 days, 1 still open" in page.body

    def row(screen: str) -> tuple[str, str, str]:
        found = re.search(rf'<tr data-screen="{screen}">.*?class="num reached">(\d+)<.*?class="num completed">(\d+)<'
                          r'.*?class="num abandoned">(\d+)<', page.body, re.S)
        return found.groups()
    assert row("home") == ("3", "0", "0")
    assert row("offers") == ("2", "0", "0")
    assert row("bye") == ("2", "2", "0")


def test_the_menu_page_says_how_many_sessions_staff_tried_and_leaves_them_out(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    Phone(engine).walk("2")
    Phone(engine, gateway=emulator.gateway(engine)).walk("1", "1")
    page = signed_in(engine, base, "analyst").get(f"/menus/{menu_id}")
    assert re.search(r"1 session in the last 30 days \(1 tried by staff in the phone emulator, "
                     r"not counted\)", page.body)


def test_a_menu_that_does_not_exist_is_a_404(web):
    engine, base = web
    assert signed_in(engine, base, "admin").get("/menus/4242").status == 404


@pytest.mark.parametrize("role", ["approver"])
def test_roles_with_no_need_may_not_read_menus(web, role):
    engine, base = web
    assert signed_in(engine, base, role).get("/menus").status == 403


@pytest.mark.parametrize("role", ["support", "analyst"])
def test_readers_see_a_menu_but_may_not_change_it(web, role):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    browser = signed_in(engine, base, role)
    page = browser.get(f"/menus/{menu_id}")
    assert page.status == 200 and 'id="save"' not in page.body and "readonly" in page.body
    assert 'id="new-menu"' not in browser.get("/menus").body
    assert browser.post_form(f"/menus/{menu_id}", menu_form(CLUB)).status == 403
    assert browser.get("/menus/phone").status == 403


def test_a_branch_marketer_reads_menus_but_may_not_change_or_try_them(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    browser = signed_in(engine, base, "marketer", branch="north")
    assert browser.get(f"/menus/{menu_id}").status == 200
    assert browser.post_form("/menus/new", menu_form(CLUB, code="*150#")).status == 403
    assert browser.get("/menus/phone").status == 403
    refused = browser.post_json("/api/v1/ussd/try", {"code": "*123#", "msisdn": "+998901000000"})
    assert refused.status == 403 and "no branch" in refused.json()["error"]


# -- switching a menu off and on ------------------------------------------------------------------------------

def test_a_menu_switched_off_answers_its_code_as_not_available_and_says_so_on_its_page(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    browser = signed_in(engine, base, "marketer")
    done = browser.post_form(f"/menus/{menu_id}/switch", {"active": "0"})
    assert done.status == 303 and done.headers["Location"] == f"/menus/{menu_id}?switched=off"
    page = browser.get(done.headers["Location"])
    assert "Menu switched off." in page.body and "Switched off:" in page.body and ">Switch on<" in page.body
    screen = Phone(engine).dial()
    assert screen.ends and "not available" in screen.text


def test_a_session_in_a_menu_switched_off_ends_at_its_next_hop(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    phone = Phone(engine)
    phone.dial()
    signed_in(engine, base, "admin").post_form(f"/menus/{menu_id}/switch", {"active": "0"})
    screen = phone.send("1")
    assert screen.ends and "not available" in screen.text


def test_a_menu_switched_back_on_answers_again(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    browser = signed_in(engine, base, "marketer")
    browser.post_form(f"/menus/{menu_id}/switch", {"active": "0"})
    assert browser.post_form(f"/menus/{menu_id}/switch", {"active": "1"}).status == 303
    assert Phone(engine).dial().text.startswith("Welcome to the club")
    with engine.connect() as conn:
        actions = conn.execute(select(AuditEntry.action).where(AuditEntry.action.like("ussd_menu.switch%"))
                               .order_by(AuditEntry.id)).scalars().all()
    assert actions == ["ussd_menu.switch_off", "ussd_menu.switch_on"]


def test_saving_a_switched_off_menu_keeps_it_off(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    browser = signed_in(engine, base, "marketer")
    browser.post_form(f"/menus/{menu_id}/switch", {"active": "0"})
    assert browser.post_form(f"/menus/{menu_id}", menu_form(CLUB.replace("Goodbye", "See you"))).status == 303
    with engine.connect() as conn:
        assert menus.for_code(conn, "*123#") is None


def test_a_menu_may_not_be_switched_on_where_another_serves_its_code(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    browser = signed_in(engine, base, "marketer")
    browser.post_form(f"/menus/{menu_id}/switch", {"active": "0"})
    put_menu(engine, CLUB.replace("name: Club", "name: Other"))
    refused = browser.post_form(f"/menus/{menu_id}/switch", {"active": "1"})
    assert refused.status == 409 and "served by menu 'Other'" in html.unescape(refused.body)


@pytest.mark.parametrize(("role", "branch"), [("support", None), ("analyst", None), ("marketer", "north")])
def test_only_editors_of_no_branch_switch_a_menu(web, role, branch):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    browser = signed_in(engine, base, role, branch=branch)
    assert 'id="switch-menu"' not in browser.get(f"/menus/{menu_id}").body
    assert browser.post_form(f"/menus/{menu_id}/switch", {"active": "0"}).status == 403
    assert Phone(engine).dial().text.startswith("Welcome to the club")


def test_switching_a_menu_that_does_not_exist_is_a_404(web):
    engine, base = web
    assert signed_in(engine, base, "admin").post_form("/menus/4242/switch", {"active": "0"}).status == 404


# -- the phone emulator's endpoint ----------------------------------------------------------------------------

def test_the_emulator_page_offers_the_codes_served_and_a_demo_number(web):
    engine, base = web
    put_menu(engine, CLUB, code="*150#")
    page = signed_in(engine, base, "marketer").get("/menus/phone")
    assert page.status == 200
    assert 'id="dial" value="*150#"' in page.body and 'id="msisdn" value="+998901000000"' in page.body


def test_the_try_endpoint_walks_a_menu_down_back_and_to_its_end(web):
    engine, base = web
    put_menu(engine, CLUB)
    browser = signed_in(engine, base, "marketer")
    number = {"code": "*123#", "msisdn": "+998901000000"}

    def hop(**body: object) -> dict:
        reply = browser.post_json("/api/v1/ussd/try", {**number, **body})
        assert reply.status == 200, reply.body
        return reply.json()
    first = hop()
    assert first["text"] == "Welcome to the club\n1. Offers\n2. Exit" and not first["ends"]
    session = first["session"]
    assert hop(session=session, answer="1") == {"session": session, "text": "Offers\n1. Data bundle", "ends": False}
    assert hop(session=session, answer="0")["text"] == first["text"]
    assert hop(session=session, answer="1")["text"].startswith("Offers")
    assert hop(session=session, answer="1") == {"session": None, "text": "Goodbye", "ends": True}


def test_a_dial_from_the_emulator_is_in_the_audit_log_with_the_number(web):
    engine, base = web
    menu_id = put_menu(engine, CLUB)
    signed_in(engine, base, "admin").post_json("/api/v1/ussd/try", {"code": "*123#", "msisdn": "+998901000000"})
    with engine.connect() as conn:
        entry = conn.execute(select(AuditEntry).where(AuditEntry.action == "ussd_menu.try")).mappings().one()
    assert (entry["actor"], entry["object_id"]) == ("admin@example.com", str(menu_id))
    assert entry["details"]["msisdn"] == "+998901000000"


def test_one_persons_emulator_session_cannot_be_answered_by_another(web):
    engine, base = web
    put_menu(engine, CLUB)
    number = {"code": "*123#", "msisdn": "+998901000000"}
    mine = signed_in(engine, base, "admin").post_json("/api/v1/ussd/try", number).json()["session"]
    theirs = signed_in(engine, base, "marketer").post_json("/api/v1/ussd/try", {**number, "session": mine,
                                                                                  "answer": "1"})
    assert theirs.status == 400 and "does not exist" in theirs.json()["error"]


def test_hanging_up_ends_the_session(web):
    engine, base = web
    put_menu(engine, CLUB)
    browser = signed_in(engine, base, "admin")
    number = {"code": "*123#", "msisdn": "+998901000000"}
    session = browser.post_json("/api/v1/ussd/try", number).json()["session"]
    assert browser.post_json("/api/v1/ussd/try", {**number, "session": session, "hang_up": True}).json()["ends"]
    after = browser.post_json("/api/v1/ussd/try", {**number, "session": session, "answer": "1"}).json()
    assert after["ends"] and after["session"] is None and "1. Offers" not in after["text"]


@pytest.mark.parametrize(("body", "named"), [
    ({"msisdn": "+998901000000"}, "code: missing"),
    ({"code": "*123#", "msisdn": 998901000000}, "msisdn: a text, not int"),
    ({"code": "*123#", "msisdn": "+998901000000", "session": "nope", "answer": "1"}, "session: the token"),
    ({"code": "*123#", "msisdn": "+998901000000", "answer": "1"}, "session: missing; dial first"),
    ({"code": "*123#", "msisdn": "x" * 40}, "msisdn: over 32 characters"),
], ids=["no-code", "number-not-text", "bad-session", "answer-before-dial", "long-number"])
def test_a_hop_that_cannot_be_taken_is_a_400_naming_the_field(web, body, named):
    engine, base = web
    put_menu(engine, CLUB)
    reply = signed_in(engine, base, "admin").post_json("/api/v1/ussd/try", body)
    assert reply.status == 400 and reply.json()["error"].startswith(named), reply.body


def test_the_try_endpoint_needs_the_pages_xsrf_token(web):
    engine, base = web
    put_menu(engine, CLUB)
    reply = signed_in(engine, base, "admin").post_json("/api/v1/ussd/try", {"code": "*123#", "msisdn": "+9989"},
                                                       xsrf=False)
    assert reply.status == 403 and "XSRF" in reply.json()["error"]


@pytest.mark.parametrize("role", ["support", "analyst", "approver"])
def test_roles_that_do_not_edit_menus_may_not_use_the_emulator(web, role):
    engine, base = web
    put_menu(engine, CLUB)
    reply = signed_in(engine, base, role).post_json("/api/v1/ussd/try", {"code": "*123#", "msisdn": "+998901000000"})
    assert reply.status == 403


def test_the_emulators_gateway_answers_no_callback(web):
    engine, base = web
    put_menu(engine, CLUB)
    signed_in(engine, base, "admin").post_json("/api/v1/ussd/try", {"code": "*123#", "msisdn": "+998901000000"})
    query = urllib.parse.urlencode({"sessionId": "s1", "serviceCode": "*123#", "phoneNumber": "+998901000000",
                                    "text": ""})
    assert Browser(base).request("POST", "/ussd/emulator?token=x", query.encode(),
                                 {"Content-Type": "application/x-www-form-urlencoded"}).status == 403
