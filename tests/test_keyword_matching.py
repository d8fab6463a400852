"""A subscriber's text is read as the keyword they meant, whatever its case, spacing, punctuation
or language; a sentence that only mentions a keyword is not one."""

import pytest

from engage.engine.keywords.matching import match


@pytest.mark.parametrize("text", ["STOP", "stop", "  Stop!  ", "STOP.", "stop please", "Unsubscribe",
                                  "СТОП", "стоп", "toʻxtat", "TO'XTAT", "Arrêt", "\tSTOPP\n", "«STOP»"])
def test_stop_in_its_forms_and_languages_is_stop(text):
    assert match(text).keyword == "STOP"


@pytest.mark.parametrize("text,keyword", [("start", "START"), ("СТАРТ", "START"), ("help?", "HELP"),
                                          ("Помощь", "HELP"), ("yordam", "HELP")])
def test_start_and_help_are_read_in_their_languages(text, keyword):
    assert match(text).keyword == keyword


@pytest.mark.parametrize("text", ["please stop", "STOPPING", "ST OP", "", "   ", "!!!", "BAL"])
def test_anything_else_is_no_keyword(text):
    assert match(text).keyword is None


def test_the_unknown_word_and_what_follows_are_kept():
    found = match("  Balance? my card 1234 ")
    assert (found.keyword, found.word, found.rest) == (None, "BALANCE", "my card 1234")
