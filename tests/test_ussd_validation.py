"""Saving a menu checks it whole: every error is reported at once, naming its screen and its line
in the document, in YAML and in JSON."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from engage.engine.ussd.validation import validate

EXAMPLES = sorted((Path(__file__).parent.parent / "examples" / "ussd").iterdir())


def errors(source: str) -> list[tuple[int | None, str | None, str]]:
    return [(e.line, e.screen, e.message) for e in validate(textwrap.dedent(source)).errors]


def only(source: str) -> tuple[int | None, str | None, str]:
    found = errors(source)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_menu_is_valid(path):
    checked = validate(path.read_text(encoding="utf-8"))
    assert checked.errors == []
    assert checked.ok


def test_the_examples_include_yaml_and_json():
    assert {p.suffix for p in EXAMPLES} >= {".yaml", ".json"}


def test_an_unknown_next_screen_is_named_at_its_line():
    assert only("""
        screens:
          home:
            type: menu
            text: Hi
            options:
              - label: A
                next: bye
              - label: B
                next: byee
          bye:
            type: end
            text: Bye
    """) == (10, "home", "option 2: unknown next screen 'byee' (did you mean 'bye'?)")


def test_an_unreachable_screen_is_named_at_its_line():
    assert only("""
        screens:
          home:
            type: end
            text: Hi
          lost:
            type: end
            text: Nobody comes here
    """) == (6, "lost", "unreachable: no option, route or outcome leads here from the first screen 'home'")


def test_a_loop_with_no_way_out_has_no_path_to_an_end():
    found = errors("""
        screens:
          home:
            type: menu
            text: Hi
            options:
              - label: Loop
                next: loop
              - label: Bye
                next: bye
          loop:
            type: text
            text: Round and round
            next: again
          again:
            type: text
            text: and round
            next: loop
          bye:
            type: end
            text: Bye
    """)
    assert found == [(11, "loop", "no path from here reaches an end screen (a loop with no way out?)"),
                     (15, "again", "no path from here reaches an end screen (a loop with no way out?)")]


def test_a_menu_without_any_end_screen_says_so():
    assert only("""
        screens:
          home:
            type: input
            text: Number?
            next: home
    """)[2] == "no screen ends the session: add an end screen (type: end)"


def test_an_option_too_long_for_any_page_is_refused():
    line, screen, message = only(f"""
        screens:
          home:
            type: menu
            text: Hi
            options:
              - label: {"x" * 180}
                next: bye
          bye:
            type: end
            text: Bye
    """)
    assert (line, screen) == (7, "home")
    assert message == "option 1 (en) is 183 characters: it cannot fit one page of 182 even after pagination"


def test_an_option_in_ucs2_must_fit_a_page_of_80():
    message = only(f"""
        screens:
          home:
            type: menu
            text: Hi
            options:
              - label: {"ж" * 70}
                next: bye
          bye:
            type: end
            text: Bye
    """)[2]
    assert message.endswith("cannot fit one page of 80 even after pagination")


def test_a_template_error_names_the_screen_the_line_and_the_template_line():
    assert only("""
        screens:
          home:
            type: end
            text: "Hi {{ first_name | shout }}"
    """) == (5, "home", "text (en): template line 1: No filter named 'shout'.")


def test_a_template_syntax_error_in_one_language_names_that_language():
    assert only("""
        screens:
          home:
            type: end
            text:
              en: "Hi {{ first_name }}"
              ru: "Привет {{ first_name "
    """)[2].startswith("text (ru): template line 1:")


def test_a_text_that_would_show_a_pin_is_refused():
    assert only("""
        screens:
          pin:
            type: input
            text: PIN?
            validate: pin
            next: done
          done:
            type: end
            text: "Your PIN is {{ pin }}"
    """) == (10, "done", "text (en): shows the PIN {{ pin }}: a PIN is never shown")


def test_an_unknown_validator_is_named():
    assert only("""
        screens:
          ask:
            type: input
            text: Number?
            validate: telephone
            next: bye
          bye:
            type: end
            text: Bye
    """) == (6, "ask", "validate: unknown validator 'telephone' (one of amount, date, digits, phone, pin, regex, text)")


def test_a_validators_parameters_are_checked():
    assert only("""
        screens:
          ask:
            type: input
            text: Code?
            validate: {kind: regex, pattern: "[0-9"}
            next: bye
          bye:
            type: end
            text: Bye
    """)[2].startswith("validate (regex): pattern:")


def test_an_unknown_action_is_named():
    line, screen, message = only("""
        screens:
          go:
            type: action
            action: redeem_points
            default: bye
          bye:
            type: end
            text: Bye
    """)
    assert (line, screen) == (5, "go")
    assert message.startswith("action: unknown action 'redeem_points' (one of ")


def test_an_action_outcome_that_goes_nowhere_is_an_error():
    assert only("""
        screens:
          ask:
            type: action
            action: call_http
            params: {url: "http://127.0.0.1:9/x"}
            on: {ok: bye}
          bye:
            type: end
            text: Bye
    """) == (7, "ask", "outcome 'failed' of call_http goes nowhere: add on.failed or a default")


def test_an_actions_parameters_are_checked():
    assert only("""
        screens:
          save:
            type: action
            action: set_field
            params: {field: shoe_size, value: "42"}
            default: bye
          bye:
            type: end
            text: Bye
    """)[2].startswith("params: field: one of the subscriber fields")


def test_every_error_is_reported_at_once_in_line_order():
    found = errors("""
        screens:
          home:
            type: menu
            text: "{{ oops"
            options:
              - label: A
                next: nowhere
          ask:
            type: input
            text: Hi
            validate: nope
            next: home
    """)
    assert [(line, screen) for line, screen, _ in found] == [(2, None), (5, "home"), (8, "home"), (9, "ask"),
                                                             (12, "ask")]


def test_an_unknown_key_and_a_missing_text_are_shape_errors_at_their_lines():
    assert errors("""
        screens:
          home:
            type: end
            txt: Bye
    """) == [(3, "home", "an end screen needs a text"),
             (5, "home", "unknown key 'txt' for an end screen (it takes text)")]


def test_a_yaml_syntax_error_names_its_line():
    assert only("screens:\n  home:\n    type: end\n    text: [unclosed\n")[0] == 5


def test_json_errors_name_their_lines():
    document = {"screens": {"home": {"type": "menu", "text": "Hi", "options": [{"label": "A", "next": "gone"}]},
                            "bye": {"type": "end", "text": "Bye"}}}
    found = errors(json.dumps(document, indent=2))
    assert (9, "home", "option 1: unknown next screen 'gone'") in found


def test_invalid_json_names_its_line():
    assert only('{\n  "screens": {\n    "home": {"type": "end",, "text": "x"}\n  }\n}')[0] == 3


def test_a_key_given_twice_is_an_error():
    line, _, message = only("""
        screens:
          home:
            type: end
            text: Hi
            text: Bye
    """)
    assert (line, message) == (6, "'text' is given twice (first at line 5)")


def test_yes_and_no_are_words_in_a_menu_not_booleans():
    checked = validate(textwrap.dedent("""
        screens:
          home:
            type: menu
            text: Agree?
            options:
              - label: Yes
                next: bye
              - label: No
                next: bye
          bye:
            type: end
            text: Bye
    """))
    assert checked.ok
    assert [o["label"]["en"] for o in checked.compiled["screens"]["home"]["options"]] == ["Yes", "No"]


def test_the_readmes_example_menu_is_valid():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### USSD menus", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert validate(example).errors == []
