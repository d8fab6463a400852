"""Counting an audience: opted-out numbers counted apart, a sample masked unless the scope may see
numbers, and a branch-scoped user seeing only the branch."""

import pytest

from engage.engine import consent
from engage.engine.segments.audience import count
from engage.engine.users.scope import Scope
from tests.audience_people import add_people

TASHKENT = {"field": "city", "op": "eq", "value": "Tashkent"}


@pytest.fixture
def people(engine):
    add_people(engine)
    return engine


def test_count_gives_matching_opted_out_and_reachable(people):
    with people.begin() as conn:
        consent.opt_out(conn, ["+998901000002"], "sms", source="test", actor="test")
        counted = count(conn, TASHKENT)
    assert (counted["matching"], counted["opted_out"], counted["reachable"]) == (4, 1, 3)


def test_an_opt_out_counts_only_for_its_channel(people):
    with people.begin() as conn:
        consent.opt_out(conn, ["+998901000002"], "ussd", source="test", actor="test")
        assert count(conn, TASHKENT, channel="sms")["opted_out"] == 0
        assert count(conn, TASHKENT, channel="ussd")["opted_out"] == 1


def test_the_sample_holds_only_reachable_subscribers(people):
    with people.begin() as conn:
        consent.opt_out(conn, ["+998901000002"], "sms", source="test", actor="test")
        sample = count(conn, TASHKENT, sample=10, scope=Scope(show_numbers=True))["sample"]
    assert sorted(s["first_name"] for s in sample) == ["Aziz", "Lola", "Timur"]


def test_sample_numbers_are_masked_unless_the_scope_may_see_them(people):
    with people.connect() as conn:
        aziz = {"field": "first_name", "value": "Aziz"}
        masked = count(conn, aziz, scope=Scope(show_numbers=False), sample=1)["sample"]
        shown = count(conn, aziz, scope=Scope(show_numbers=True), sample=1)["sample"]
    assert masked[0]["msisdn"] == "+99890*****01"
    assert shown[0]["msisdn"] == "+998901000001"


def test_a_branch_user_counts_only_subscribers_of_the_branch(people):
    with people.connect() as conn:
        north = count(conn, TASHKENT, scope=Scope(branch="north"), sample=10)
    assert north["matching"] == 2
    assert {s["branch"] for s in north["sample"]} == {"north"}


def test_a_sample_of_zero_asks_for_no_rows(people):
    with people.connect() as conn:
        assert count(conn, TASHKENT, sample=0)["sample"] == []
