"""/api/v1 for audiences over real HTTP: tokens required, branch-bound tokens scoped, bad
definitions named, numbers masked."""

import json
import urllib.error
import urllib.request

import pytest

from engage.engine.segments import live
from tests.audience_people import add_people
from tests.fixtures.web import serving

TOKENS = "hq-token,north-token@north"
TASHKENT = {"field": "city", "op": "eq", "value": "Tashkent"}


@pytest.fixture
def api(engine):
    add_people(engine)
    with serving(engine, tokens=TOKENS) as base:
        yield base


def _call(base, path, body=None, token="hq-token", method=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method or ("POST" if data else "GET"),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_request_without_a_valid_token_is_refused(api):
    assert _call(api, "/api/v1/segments/count", {"definition": TASHKENT}, token=None)[0] == 401
    assert _call(api, "/api/v1/segments/count", {"definition": TASHKENT}, token="guess")[0] == 401


def test_counting_answers_with_the_count_and_a_masked_sample(api):
    status, body = _call(api, "/api/v1/segments/count", {"definition": TASHKENT, "sample": 2})
    assert status == 200
    assert body["matching"] == 4 and body["reachable"] == 4
    assert len(body["sample"]) == 2
    assert all("*" in s["msisdn"] for s in body["sample"])


def test_a_branch_token_counts_only_its_branch(api):
    assert _call(api, "/api/v1/segments/count", {"definition": TASHKENT}, token="north-token")[1]["matching"] == 2


def test_a_bad_criterion_is_a_400_naming_where_it_is(api):
    status, body = _call(api, "/api/v1/segments/count",
                         {"definition": {"and": [TASHKENT, {"field": "cty", "value": "x"}]}})
    assert status == 400
    assert body["path"] == "segment.and[1]"
    assert "unknown field 'cty'" in body["error"]


def test_a_body_that_is_not_json_is_a_400(api):
    request = urllib.request.Request(api + "/api/v1/segments/count", data=b"{nope", method="POST",
                                     headers={"Authorization": "Bearer hq-token"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 400
    assert "not JSON" in json.loads(err.value.read())["error"]


def test_a_segment_saved_by_a_branch_token_is_seen_only_in_that_branch(api):
    status, body = _call(api, "/api/v1/segments", {"name": "north tashkent", "definition": TASHKENT},
                         token="north-token")
    assert status == 201 and body["matching"] == 2
    hq = [s["name"] for s in _call(api, "/api/v1/segments")[1]["segments"]]
    assert "north tashkent" in hq
    status, body = _call(api, "/api/v1/segments", {"name": "shared", "definition": TASHKENT})
    assert status == 201
    north = [s["name"] for s in _call(api, "/api/v1/segments", token="north-token")[1]["segments"]]
    assert north == ["north tashkent", "shared"]


def test_the_criterion_kinds_are_listed_for_the_editor(api):
    kinds = _call(api, "/api/v1/segments/kinds")[1]["kinds"]
    assert len(kinds) >= 20


def test_a_json_batch_of_subscribers_is_stored_and_bad_records_named_by_index(api):
    status, body = _call(api, "/api/v1/subscribers", {"subscribers": [
        {"msisdn": "+998901000010", "first_name": "Olim", "city": "Samarkand"},
        {"msisdn": "12", "first_name": "Nobody"},
        {"msisdn": "+998901000011", "birth_date": "last year"},
    ]})
    assert status == 200
    assert (body["imported"], body["rejected"]) == (1, 2)
    assert [r["index"] for r in body["rejections"]] == [1, 2]
    assert "birth_date" in body["rejections"][1]["reason"]
    assert _call(api, "/api/v1/segments/count", {"definition": {"field": "city", "value": "Samarkand"}})[1][
        "matching"] == 1


def test_a_branch_token_writes_subscribers_into_its_branch_only(api):
    status, _ = _call(api, "/api/v1/subscribers", {"subscribers": [{"msisdn": "+998901000012", "city": "Navoi"}]},
                      token="north-token")
    assert status == 200
    navoi = {"field": "city", "value": "Navoi"}
    assert _call(api, "/api/v1/segments/count", {"definition": navoi}, token="north-token")[1]["matching"] == 1
    status, body = _call(api, "/api/v1/subscribers", {"subscribers": [{"msisdn": "+998901000013",
                                                                       "branch": "south"}]}, token="north-token")
    assert status == 403 and "subscribers[0].branch" in body["error"]


def test_with_live_counts_the_api_counts_from_memory_within_the_scope(api, engine):
    live.enable(engine, wait=True)
    try:
        everyone = _call(api, "/api/v1/segments/count", {"definition": TASHKENT, "sample": 4})[1]
        north = _call(api, "/api/v1/segments/count", {"definition": TASHKENT}, token="north-token")[1]
    finally:
        live.disable(engine)
    assert everyone["matching"] == 4 and "live" in everyone
    assert len(everyone["sample"]) == 4 and all("*" in s["msisdn"] for s in everyone["sample"])
    assert north["matching"] == 2 and "live" in north
