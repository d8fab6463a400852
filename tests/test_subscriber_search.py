"""Finding subscribers: a whole number however it is written, part of a number for whoever may see
numbers, a profile field read by its type; within the asker's branch, a page at a time, numbers
masked for whoever may not see them."""

from __future__ import annotations

import pytest

from engage.engine.subscribers import upsert
from engage.engine.subscribers.search import Query, SearchError, profile, search
from engage.engine.users.scope import Scope
from tests.subscriber_story import ANNA, AZIZ, LOLA, SAM, TIMUR, add_people

SEES_NUMBERS = Scope(show_numbers=True)
MASKED = Scope(show_numbers=False)


@pytest.fixture
def people(engine):
    return add_people(engine)


def found(engine, scope=SEES_NUMBERS, **asked):
    with engine.connect() as conn:
        return search(conn, Query(**asked), scope, "UZ")


def numbers(engine, scope=SEES_NUMBERS, **asked):
    return [s["msisdn"] for s in found(engine, scope, **asked)["subscribers"]]


@pytest.mark.parametrize("typed", ["+998901000001", "+998 90 100-00-01", "998901000001", "00998901000001",
                                   "90 100 00 01"])
def test_a_whole_number_finds_its_subscriber_however_it_is_written(engine, people, typed):
    page = found(engine, number=typed)
    assert [s["msisdn"] for s in page["subscribers"]] == [AZIZ]
    assert page["match"] == "exact"


def test_digits_after_a_plus_find_the_numbers_starting_with_them(engine, people):
    assert numbers(engine, number="+99890") == [AZIZ, ANNA, LOLA]
    assert found(engine, number="+99890")["match"] == "prefix"


def test_a_prefix_ending_in_nines_still_finds_its_numbers(engine, people):
    assert numbers(engine, number="+99899") == []
    assert numbers(engine, number="+9989") == [AZIZ, ANNA, SAM, LOLA, TIMUR]


def test_other_digits_find_the_numbers_containing_them(engine, people):
    assert numbers(engine, number="0004") == [LOLA]
    assert found(engine, number="0004")["match"] == "contains"


def test_numbers_are_masked_for_a_scope_that_may_not_see_them(engine, people):
    assert numbers(engine, MASKED, number=AZIZ) == ["+99890*****01"]


def test_a_masked_scope_may_not_search_by_part_of_a_number(engine, people):
    with pytest.raises(SearchError, match=r"^q: '\+99890' is not a whole phone number"):
        found(engine, MASKED, number="+99890")


def test_a_number_is_not_a_field_to_search_by(engine, people):
    with pytest.raises(SearchError, match="^field: 'msisdn' is not a subscriber field"):
        found(engine, MASKED, field="msisdn", op="contains", value="9989")


def test_text_that_is_no_number_is_refused_naming_q(engine, people):
    with pytest.raises(SearchError, match="^q: 'Aziz' is not a phone number"):
        found(engine, number="Aziz")


def test_a_branch_scope_finds_only_its_branch(engine, people):
    north = Scope(branch="north", show_numbers=True)
    assert numbers(engine, north, field="city", value="Tashkent") == [AZIZ, ANNA]
    assert numbers(engine, north, number=LOLA) == []


def test_a_field_value_is_read_by_the_fields_type(engine, people):
    assert numbers(engine, field="balance", value="12.5") == [AZIZ, SAM]
    assert numbers(engine, field="birth_date", value="1985-12-24") == [ANNA]


def test_text_fields_match_whole_or_in_part_ignoring_case(engine, people):
    assert numbers(engine, field="city", value="tashkent") == [AZIZ, ANNA, LOLA]
    assert numbers(engine, field="first_name", op="contains", value="AN") == [ANNA]


def test_a_contains_search_takes_percent_signs_literally(engine, people):
    assert numbers(engine, field="city", op="contains", value="%") == []


@pytest.mark.parametrize(("asked", "message"), [
    ({"field": "colour", "value": "red"}, "^field: 'colour' is not a subscriber field"),
    ({"field": "balance", "value": "lots"}, "^value: balance: 'lots' is not a number"),
    ({"field": "birth_date", "value": "yesterday"}, "^value: birth_date: 'yesterday' is not a date"),
    ({"field": "city", "op": "like", "value": "T"}, "^op: 'like' is not an operator"),
    ({"field": "balance", "op": "contains", "value": "1"}, "^op: contains is for text fields; balance is number"),
    ({"field": "city", "value": " "}, "^value: give the city to look for"),
])
def test_a_bad_field_operator_or_value_is_an_error_naming_it(engine, people, asked, message):
    with pytest.raises(SearchError, match=message):
        found(engine, **asked)


def test_pages_follow_one_another_by_id(engine, people):
    first = found(engine, number="+998", limit=2)
    assert [s["msisdn"] for s in first["subscribers"]] == [AZIZ, ANNA]
    second = found(engine, number="+998", limit=2, after=first["next_after"])
    assert [s["msisdn"] for s in second["subscribers"]] == [SAM, LOLA]
    last = found(engine, number="+998", limit=2, after=second["next_after"])
    assert [s["msisdn"] for s in last["subscribers"]] == [TIMUR] and last["next_after"] is None


def test_a_profile_has_every_field_the_tags_and_the_number_as_the_scope_may_see_it(engine, people):
    with engine.connect() as conn:
        shown = profile(conn, people[AZIZ], MASKED)
    assert shown["msisdn"] == "+99890*****01"
    assert shown["fields"]["city"] == "Tashkent" and str(shown["fields"]["balance"]) == "12.50"
    assert shown["tags"] == ["news", "sport"]


def test_another_branchs_subscriber_has_no_profile_for_a_branch_scope(engine, people):
    with engine.connect() as conn:
        assert profile(conn, people[SAM], Scope(branch="north")) is None
        assert profile(conn, people[SAM], Scope(branch="south")) is not None


def test_a_search_past_its_time_budget_is_a_search_error_saying_to_narrow_it(engine, monkeypatch):
    from engage.engine.subscribers import search as searching
    from tests.test_segment_limits import many_people

    many_people(engine)  # 50,000: "contains" on a value no one has reads them all
    monkeypatch.setattr(searching, "SEARCH_SECONDS", 0.001)
    with pytest.raises(SearchError, match="the search took longer than 0.001 s; narrow it"):
        found(engine, field="city", op="contains", value="nowhere")


def test_a_search_within_its_budget_leaves_the_connection_as_it_was(engine, people):
    with engine.connect() as conn:
        search(conn, Query(field="city", op="contains", value="nowhere"), SEES_NUMBERS, "UZ")
        if conn.dialect.name == "postgresql":
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "0"


@pytest.mark.parametrize(("name", "typed"), [("Дилноза", "дилн"), ("ÉLODIE", "élo"), ("Αλέξανδρος", "ΑΛΈΞ")])
def test_a_name_in_any_script_is_found_by_part_of_it_in_either_case(engine, name, typed):
    upsert(engine, [{"msisdn": "+998901000077", "first_name": name},
                    {"msisdn": "+998901000078", "first_name": "Elena"}])
    assert numbers(engine, field="first_name", op="contains", value=typed) == ["+998901000077"]


@pytest.mark.parametrize("typed", ["дилноза", "ДИЛНОЗА"])
def test_a_whole_name_in_any_script_is_found_in_either_case(engine, typed):
    upsert(engine, [{"msisdn": "+998901000077", "first_name": "Дилноза"}])
    assert numbers(engine, field="first_name", value=typed) == ["+998901000077"]
