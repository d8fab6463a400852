"""The tree a menu's page shows: every way on from the first screen (options, answers, routers'
branches, actions' outcomes), each screen unfolded once and referred to where it comes again."""

from __future__ import annotations

import textwrap

from engage.engine.ussd.tree import outline
from engage.engine.ussd.validation import validate

MENU = textwrap.dedent("""\
    name: Tree
    screens:
      home:
        type: menu
        text: "Hi {{ first_name | default('friend') }}\\nsecond line"
        options:
          - label: Birthday
            next: birthday
          - label: Offers
            next: tier
      birthday:
        type: input
        text: Your birthday?
        validate: date
        save: born
        next: save_birthday
      save_birthday:
        type: action
        action: set_field
        params: {field: birth_date, value: "{{ born }}"}
        on: {ok: thanks}
        default: home
      tier:
        type: router
        routes:
          - if: {field: loyalty_tier, op: eq, value: gold}
            next: thanks
          - if: "balance > 100"
            next: home
        default: thanks
      thanks:
        type: end
        text: Thanks
""")


def lines(document: str) -> list[tuple[int, str | None, str, bool]]:
    checked = validate(document)
    assert checked.ok, checked.errors
    return [(n.depth, n.way, n.screen, n.again) for n in outline(checked.compiled)]


def test_each_way_on_is_said_as_people_read_it_and_each_screen_is_unfolded_once():
    assert lines(MENU) == [
        (0, None, "home", False),
        (1, "1. Birthday", "birthday", False),
        (2, "answer (date, kept as born)", "save_birthday", False),
        (3, "on ok", "thanks", False),
        (3, "otherwise", "home", True),
        (1, "2. Offers", "tier", False),
        (2, "if loyalty_tier = 'gold'", "thanks", True),
        (2, "if balance > 100", "home", True),
        (2, "otherwise", "thanks", True),
    ]


def test_a_screen_shows_the_first_line_of_its_text_in_the_menus_language_as_written():
    home = outline(validate(MENU).compiled)[0]
    assert (home.kind, home.text, home.ends) == ("menu", "Hi {{ first_name | default('friend') }}", False)


def test_routers_and_actions_say_what_they_do_instead_of_a_text():
    nodes = {n.screen: n for n in outline(validate(MENU).compiled) if not n.again}
    assert nodes["tier"].text == "chooses the next screen by the conditions below"
    assert nodes["save_birthday"].text == "runs set_field"
    assert nodes["thanks"].ends


def test_a_screen_no_way_reaches_is_listed_after_the_tree():
    compiled = validate(MENU).compiled
    compiled["screens"]["orphan"] = {"type": "end", "text": {"en": "Alone"}, "line": 40}
    assert [(n.depth, n.way, n.screen) for n in outline(compiled)][-1] == (0, "not reached from the first screen",
                                                                            "orphan")
