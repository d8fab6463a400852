"""The segment builder speaks the marketer's language, and the engine gives it the words: every
criterion kind, parameter and profile field has a label; a field offers only the comparisons it
allows, each in words ("is at least", "is before"); a usage criterion takes a usage kind from the
engine's own list; and a definition that cannot be counted is refused naming the criterion as the
builder numbers it, with what to enter ("Criterion 2 (Age): enter an age in years"), never "got None".
The JSON definition keeps the code's names, so the API, the CLI and saved segments work as before."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from engage.engine.segments import audience
from engage.engine.segments import store as segments
from engage.engine.segments.criteria import describe_kinds
from engage.engine.segments.errors import SegmentError
from engage.engine.usage import USAGE_KINDS
from tests.audience_people import add_people
from tests.fixtures.web import serving, signed_in

KINDS = {k["kind"]: k for k in describe_kinds()}
FIELDS = {f["name"]: f for f in KINDS["field"]["fields"]}


def options(kind: str, param: str) -> dict:
    found = next(p for p in KINDS[kind]["params"] if p["name"] == param)
    return {o["value"]: o["label"] for o in found["options"]}


def refusal(engine, definition) -> SegmentError:
    with engine.connect() as conn, pytest.raises(SegmentError) as refused:
        audience.count(conn, definition)
    return refused.value


# --- labels and choices -------------------------------------------------------------------------

def test_every_kind_and_parameter_has_a_label_in_words():
    for kind in KINDS.values():
        assert kind["label"] and "_" not in kind["label"], kind["kind"]
        for param in kind["params"]:
            assert param["label"] and "_" not in param["label"], (kind["kind"], param["name"])
            assert param["ask"] and "None" not in param["ask"]


def test_every_profile_field_has_a_label_in_words():
    assert FIELDS["msisdn"]["label"] == "Phone number"
    assert FIELDS["city"]["label"] == "City"
    assert all(f["label"] and "_" not in f["label"] for f in FIELDS.values())


def test_a_usage_criterion_offers_the_engines_usage_kinds_by_name():
    offered = options("usage", "usage")
    assert list(offered) == list(USAGE_KINDS)
    assert offered["call_out"] == "Outgoing calls (minutes)"


def test_a_measure_is_compared_in_words():
    assert options("age", "op") == {"eq": "exactly", "ne": "not", "lt": "less than", "le": "at most",
                                    "gt": "more than", "ge": "at least", "between": "between"}
    assert options("usage", "op") == options("loyalty_points", "op")


def test_a_field_offers_only_its_own_comparisons_each_in_words():
    for field in FIELDS.values():
        assert list(field["operator_labels"]) == field["operators"], field["name"]
    assert FIELDS["roaming"]["operator_labels"] == {"eq": "is", "ne": "is not", "empty": "is unknown",
                                                    "not_empty": "is known"}
    assert FIELDS["balance"]["operator_labels"]["ge"] == "is at least"
    assert "contains" not in FIELDS["balance"]["operators"]
    assert FIELDS["birth_date"]["operator_labels"]["lt"] == "is before"


def test_a_choice_fields_values_have_words():
    assert FIELDS["gender"]["choices"] == ["m", "f", "x"]
    assert set(FIELDS["gender"]["choice_labels"]) == {"m", "f", "x"}


def test_a_yes_or_no_parameter_is_offered_as_is_or_is_not():
    assert options("opted_out", "value") == {True: "has opted out", False: "has not opted out"}


def test_a_date_criterion_offers_only_date_fields_by_name():
    offered = options("in_last_days", "field")
    assert "last_activity_at" in offered and "created_at" in offered and "city" not in offered
    assert "_" not in "".join(offered.values())


# --- errors said in words -----------------------------------------------------------------------

def test_a_missing_value_is_named_by_its_criterion_and_what_to_enter(engine):
    refused = refusal(engine, {"and": [{"field": "city", "value": "Tashkent"}, {"kind": "age", "op": "ge"}]})
    assert refused.in_words() == "Criterion 2 (Age): enter an age in years"
    assert refused.path == "segment.and[1]" and refused.message == "'value' is required"


def test_a_value_of_the_wrong_kind_is_named_by_the_fields_label(engine):
    refused = refusal(engine, {"field": "balance", "op": "ge", "value": "lots"})
    assert refused.in_words() == "Criterion 1 (Balance): enter a number"


def test_a_criterion_in_a_nested_group_is_numbered_as_the_builder_lists_it(engine):
    refused = refusal(engine, {"or": [{"kind": "all"},
                                      {"and": [{"kind": "all"}, {"not": {"kind": "tenure", "value": -1}}]}]})
    assert refused.in_words() == "Criterion 2.2 (Customer for): enter 0 or more"


def test_a_missing_choice_asks_for_one_of_the_choices_by_name(engine):
    refused = refusal(engine, {"kind": "usage", "days": 30, "value": 100})
    assert refused.in_words() == "Criterion 1 (Network usage): choose what usage to count"
    assert "None" not in refused.message


@pytest.mark.parametrize("kind", sorted(k for k, v in KINDS.items() if any(p["required"] for p in v["params"])))
def test_no_criterion_missing_a_parameter_is_refused_with_none_in_the_message(engine, kind):
    refused = refusal(engine, {"kind": kind})
    said = refused.in_words()
    assert said.startswith(f"Criterion 1 ({KINDS[kind]['label']}): "), said
    assert "None" not in said and "None" not in str(refused)


def test_an_out_of_range_number_says_the_range(engine):
    refused = refusal(engine, {"kind": "usage", "usage": "data", "days": 0, "value": 1})
    assert refused.in_words() == "Criterion 1 (Network usage): enter a whole number from 1 to 3660"


# --- over the API ---------------------------------------------------------------------------------

@pytest.fixture
def api(engine):
    add_people(engine)
    with serving(engine, tokens="hq-token") as base:
        yield base


def _post(base: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer hq-token"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_refused_count_says_it_for_a_person_beside_the_error_for_a_program(api):
    status, body = _post(api, "/api/v1/segments/count",
                         {"definition": {"and": [{"field": "city", "value": "Tashkent"}, {"kind": "age"}]}})
    assert status == 400
    assert body["error"] == "segment.and[1]: 'value' is required" and body["path"] == "segment.and[1]"
    assert body["explanation"] == "Criterion 2 (Age): enter an age in years"
    assert body["criterion"] == "Age" and body["hint"] == "enter an age in years"


def test_definitions_in_the_codes_names_still_count(api):
    status, body = _post(api, "/api/v1/segments/count", {"definition": {"and": [
        {"field": "city", "op": "eq", "value": "Tashkent"},
        {"kind": "usage", "usage": "call_out", "days": 30, "agg": "sum", "op": "lt", "value": 100}]}})
    assert status == 200 and body["matching"] == 4


# --- the segments list ------------------------------------------------------------------------------

def test_the_segments_list_says_who_is_in_each_segment_in_words(engine, quick_hashes):
    with engine.begin() as conn:
        segments.create(conn, "Adults in Tashkent", {"and": [{"field": "city", "op": "eq", "value": "Tashkent"},
                                                             {"kind": "age", "op": "ge", "value": 18}]}, actor="t")
    with serving(engine) as base:
        page = signed_in(engine, base, "marketer").get("/segments").body
    said = re.search(r'<td class="said">([^<]*)</td>', page).group(1)
    assert said == "City is Tashkent and Age: at least 18"
    assert "&quot;op&quot;" not in page and '"op"' not in page


def test_an_empty_segments_list_says_so_and_offers_to_build_the_first(engine, quick_hashes):
    with serving(engine) as base:
        page = signed_in(engine, base, "marketer").get("/segments").body
    assert 'id="segments"' not in page
    assert re.search(r'No segments yet\. <a href="/segments/new" id="new-segment">Build the first one</a>', page)
