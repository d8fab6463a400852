"""`engage keyword ...` as an operator runs it: list the keywords, add one with its steps and reply,
test a text against them, and a clear error for one that cannot work."""

from __future__ import annotations


def test_list_shows_the_built_in_keywords(engage_cli):
    code, rows, _ = engage_cli("keyword", "list")
    assert code == 0
    assert [(r["word"], r["builtin"], r["enabled"]) for r in rows] == [
        ("*", True, False), ("HELP", True, True), ("START", True, True), ("STOP", True, True)]


def test_add_saves_a_keyword_with_its_steps_and_reply(engage_cli):
    code, rows, _ = engage_cli("keyword", "add", "join", "--short-code", "4455", "--tag", "quiz",
                               "--field", "city=Tashkent", "--answered", "--reply", "Keyword reply: HELP")
    assert code == 0 and rows[0]["word"] == "JOIN"
    _, listed, _ = engage_cli("keyword", "list")
    join = next(r for r in listed if r["word"] == "JOIN")
    assert join["short_code"] == "4455" and join["reply_template"] == "Keyword reply: HELP"
    assert join["steps"] == [{"kind": "tag", "tag": "quiz"}, {"kind": "field", "field": "city", "value": "Tashkent"},
                             {"kind": "answered"}]


def test_add_again_changes_the_keyword_on_that_short_code(engage_cli):
    engage_cli("keyword", "add", "join", "--short-code", "4455", "--tag", "quiz")
    engage_cli("keyword", "add", "join", "--short-code", "4455", "--tag", "club")
    _, listed, _ = engage_cli("keyword", "list")
    assert [r["steps"] for r in listed if r["word"] == "JOIN"] == [[{"kind": "tag", "tag": "club"}]]


def test_a_keyword_that_cannot_work_is_refused_naming_the_field(engage_cli):
    code, _, err = engage_cli("keyword", "add", "win", "--webhook", "ftp://x", "--reply", "no such template")
    assert code == 2
    assert "step 1 (webhook)" in err and "no template named 'no such template'" in err


def test_test_says_what_a_text_would_do(engage_cli):
    _, rows, _ = engage_cli("keyword", "test", "Stop!", "--language", "fr")
    assert rows[0]["keyword"] == "STOP" and rows[0]["reply"].startswith("Vous êtes désabonné")
