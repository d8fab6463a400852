"""Screens longer than a USSD message are cut into pages: 182 GSM-7 septets, 80 characters for a
text that needs UCS-2 or on a UCS-2 gateway; 98 shows the next page, 0 the one before, then the
screen before."""

from __future__ import annotations

import pytest

from engage.engine.smpp.ussd_ops import answer_body
from engage.engine.ussd.pages import paginate
from tests.ussd_helpers import Phone, put_menu

LONG_TEXT = " ".join(f"word{i:03d}" for i in range(60))  # 479 characters
OPTIONS = "\n".join(f"          - label: Option number {i} with a longer label\n            next: bye"
                    for i in range(1, 13))
MENU = f"""
    screens:
      home:
        type: menu
        text: Pick one
        options:
          - label: Terms
            next: terms
          - label: Many
            next: many
      terms:
        type: text
        text: "{LONG_TEXT}"
        next: bye
      many:
        type: menu
        text: Choose
        options:
{OPTIONS}
      bye:
        type: end
        text: Bye
"""


@pytest.fixture
def paged(engine):
    put_menu(engine, MENU)
    return engine


def test_a_short_text_is_one_page_without_navigation():
    assert paginate("Hello\n1. A", 182) == ["Hello\n1. A"]


@pytest.mark.parametrize("limit", [182, 80])
def test_every_page_fits_the_limit_with_more_on_all_but_the_last_and_back_on_all_but_the_first(limit):
    pages = paginate(LONG_TEXT, limit)
    assert len(pages) > 1
    assert all(len(page) <= limit for page in pages)
    assert all("98 More" in page.split("\n") for page in pages[:-1])
    assert "98 More" not in pages[-1]
    assert all("0 Back" in page for page in pages[1:])
    assert "0 Back" not in pages[0]


@pytest.mark.parametrize("limit", [182, 80])
def test_pages_cut_between_words_and_lose_none(limit):
    pages = paginate(LONG_TEXT, limit)
    words = [w for page in pages for w in page.split() if w.startswith("word")]
    assert " ".join(words) == LONG_TEXT


def test_a_text_that_needs_ucs2_is_paged_at_80_characters_even_on_a_gsm_gateway():
    russian = " ".join(f"слово{i:03d}" for i in range(40))  # 359 characters, Cyrillic
    pages = paginate(russian, 182)
    assert len(pages) > 2 and all(len(page) <= 80 for page in pages)
    assert all(len(answer_body(page)[1]) <= 160 for page in pages)  # each fits one USSD message of 160 octets


def test_gsm_extension_characters_count_two_septets():
    euros = " ".join(["10€"] * 40)  # 159 characters, 199 septets
    pages = paginate(euros, 182)
    assert len(pages) == 2
    assert all(len(answer_body(page)[1]) <= 182 for page in pages)  # septets, as the SMPP answer packs them


def test_a_gsm_text_of_182_septets_is_one_page():
    text = "x" * 182
    assert paginate(text, 182) == [text]


def test_an_option_line_is_never_cut_across_pages():
    body = "Choose\n" + "\n".join(f"{i}. Option number {i} with a longer label" for i in range(1, 13))
    pages = paginate(body, 182)
    lines = [line for page in pages for line in page.split("\n") if line[:1].isdigit() and not line.startswith("98 ")
             and not line.startswith("0 ")]
    assert lines == body.split("\n")[1:]


@pytest.mark.parametrize("limit", [182, 80])
def test_98_walks_the_pages_of_a_long_text_and_0_walks_back(paged, limit):
    phone = Phone(paged, max_chars=limit)
    phone.dial()
    first = phone.send("1")
    assert len(first.text) <= limit and first.text.endswith("98 More")
    second = phone.send("98")
    assert second.text != first.text and len(second.text) <= limit and "0 Back" in second.text
    assert phone.send("0") == first
    assert phone.send("0").text.startswith("Pick one")


def test_a_page_of_a_long_menu_takes_any_option_number(paged):
    phone = Phone(paged, max_chars=80)
    phone.walk("2")
    second = phone.send("98")
    assert "Option number" in second.text
    assert phone.send("1").text == "Bye"


def test_the_last_page_of_a_long_end_screen_ends_the_session(engine):
    put_menu(engine, f"""
        screens:
          terms:
            type: end
            text: "{LONG_TEXT}"
    """)
    phone = Phone(engine, max_chars=80)
    screen = phone.dial()
    while not screen.ends:
        assert "98 More" in screen.text.split("\n")
        screen = phone.send("98")
    assert "word059" in screen.text


def test_98_on_a_screen_of_one_page_is_an_answer_like_any_other(engine):
    put_menu(engine, """
        screens:
          amount:
            type: input
            text: Amount?
            validate: {kind: amount, min: 1, max: 100}
            next: done
          done:
            type: end
            text: "Got {{ amount }}"
    """)
    assert Phone(engine).walk("98").text == "Got 98"


def test_the_navigation_lines_speak_the_subscribers_language(engine):
    put_menu(engine, f"""
        language: ru
        screens:
          terms:
            type: text
            text: "{LONG_TEXT}"
            next: bye
          bye:
            type: end
            text: Пока
    """)
    screen = Phone(engine, max_chars=80).dial()
    assert screen.text.endswith("98 Ещё")
