"""Bodies of the wrong shape for campaigns and templates are a 400 naming the field in words, never
Python's message about keyword arguments, attributes or hashing (the quoted leaks of issue 19)."""

from __future__ import annotations

import pytest

from engage.engine.segments import store as segments
from tests.campaign_setup import add_subscribers
from tests.fixtures.web import serving
from tests.test_audience_api import _call

LEAKS = ("got multiple values", "has no attribute", "unhashable", "keyword argument", "NoneType")


@pytest.fixture
def api(engine):
    add_subscribers(engine, 2)
    with engine.begin() as conn:
        segments.create(conn, "everyone", {"kind": "all"}, actor="t")
    with serving(engine, tokens="hq-token") as base:
        status, body = _call(base, "/api/v1/templates", {"name": "hi", "variants": {"en": "Hi"}})
        assert status == 201, body
        yield base


def _refused(reply: tuple[int, dict], field: str) -> None:
    status, body = reply
    assert status == 400, body
    assert body["error"].startswith(f"{field}:"), body
    assert not any(leak in body["error"] for leak in LEAKS), body


CAMPAIGN = {"name": "offer", "segment_id": 1, "template_id": 1, "sender_id": "Shop"}


def test_a_campaign_body_naming_the_actor_is_a_400_naming_that_field(api):
    _refused(_call(api, "/api/v1/campaigns", {**CAMPAIGN, "actor": "someone else"}), "actor")


def test_a_campaign_body_with_an_object_for_a_name_is_a_400_naming_it(api):
    _refused(_call(api, "/api/v1/campaigns", {**CAMPAIGN, "name": {"a": 1}}), "name")


def test_a_campaign_body_with_a_text_for_an_id_is_a_400_naming_it(api):
    _refused(_call(api, "/api/v1/campaigns", {**CAMPAIGN, "segment_id": "1"}), "segment_id")


def test_a_campaign_body_with_an_id_past_the_columns_range_is_a_400_naming_it(api):
    _refused(_call(api, "/api/v1/campaigns", {**CAMPAIGN, "template_id": 2**31}), "template_id")


def test_a_template_whose_variants_are_a_list_is_a_400_naming_them(api):
    _refused(_call(api, "/api/v1/templates", {"name": "x", "variants": ["Hi"]}), "variants")


def test_a_template_variant_that_is_an_object_is_a_400_naming_its_language(api):
    _refused(_call(api, "/api/v1/templates", {"name": "x", "variants": {"en": {"a": 1}}}), "variants.en")


def test_a_template_with_an_object_for_a_name_is_a_400_naming_it(api):
    _refused(_call(api, "/api/v1/templates", {"name": {"a": 1}, "variants": {"en": "Hi"}}), "name")


def test_a_template_change_with_a_list_of_arms_is_a_400_naming_them(api):
    _refused(_call(api, "/api/v1/templates/1", {"arms": [{"en": "Hi"}]}, method="PUT"), "arms")


def test_a_template_change_with_an_unknown_field_is_a_400_naming_it(api):
    _refused(_call(api, "/api/v1/templates/1", {"variants": {"en": "Hi"}, "actor": "x"}, method="PUT"), "actor")
