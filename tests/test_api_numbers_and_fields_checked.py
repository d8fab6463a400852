"""Query parameters and body fields of the subscriber and segment APIs are checked before they reach
Python's int() or the SQL: a bad one is a 400 naming it, over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.audience_people import add_people
from tests.fixtures.web import serving
from tests.test_audience_api import _call

TASHKENT = {"field": "city", "op": "eq", "value": "Tashkent"}


@pytest.fixture
def api(engine):
    add_people(engine)
    with serving(engine, tokens="hq-token") as base:
        yield base


def _search(base: str, **params: str) -> tuple[int, dict]:
    return _call(base, "/api/v1/subscribers?" + urllib.parse.urlencode(params))


def test_a_superscript_digit_as_after_is_a_400_naming_after(api):
    status, body = _search(api, after="²")
    assert status == 400
    assert body["error"].startswith("after:")


def test_a_limit_of_4400_digits_is_a_400_naming_limit(api):
    status, body = _search(api, limit="9" * 4400)
    assert status == 400
    assert body["error"].startswith("limit:")


def test_an_after_past_the_largest_id_is_a_400_naming_after(api):
    status, body = _search(api, after=str(10**20))
    assert status == 400
    assert body["error"].startswith("after:")


def test_the_largest_id_as_after_is_an_empty_page(api):
    status, body = _search(api, after=str(2**63 - 1))
    assert status == 200
    assert body["subscribers"] == []


def test_a_valid_after_and_limit_still_page(api):
    status, body = _search(api, after="0", limit="2")
    assert status == 200
    assert len(body["subscribers"]) == 2 and body["next_after"] is not None


@pytest.mark.parametrize("channel", [["sms"], {"a": 1}, 5, None, "email"])
def test_a_count_for_a_channel_other_than_sms_or_ussd_is_a_400_naming_channel(api, channel):
    status, body = _call(api, "/api/v1/segments/count", {"definition": TASHKENT, "channel": channel})
    assert status == 400
    assert body["error"].startswith("channel:") and "sms, ussd" in body["error"]


def test_a_count_for_ussd_answers(api):
    status, body = _call(api, "/api/v1/segments/count", {"definition": TASHKENT, "channel": "ussd"})
    assert status == 200
    assert body["matching"] == 4


@pytest.mark.parametrize("sample", [True, -1, 101, 2.5, "3", [1]])
def test_a_sample_other_than_a_whole_number_from_0_to_100_is_a_400_naming_sample(api, sample):
    status, body = _call(api, "/api/v1/segments/count", {"definition": TASHKENT, "sample": sample})
    assert status == 400
    assert body["error"].startswith("sample:")


@pytest.mark.parametrize("name", [5, ["a"], {"a": 1}, True])
def test_saving_a_segment_named_other_than_by_a_text_is_a_400_naming_name(api, name):
    status, body = _call(api, "/api/v1/segments", {"name": name, "definition": TASHKENT})
    assert status == 400
    assert body["error"].startswith("name:")


@pytest.mark.parametrize("name", [5, ["a"], {"a": 1}, True])
def test_renaming_a_segment_to_other_than_a_text_is_a_400_naming_name(api, name):
    created, saved = _call(api, "/api/v1/segments", {"name": "people of Tashkent", "definition": TASHKENT})
    assert created == 201
    status, body = _call(api, f"/api/v1/segments/{saved['segment_id']}", {"name": name}, method="PUT")
    assert status == 400
    assert body["error"].startswith("name:")
