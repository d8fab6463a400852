"""A role that sees numbers masked (+99890*****07) cannot learn them: no criterion, count, sample,
saved or included segment, segment definition shown back or history tells it more of a number than
the mask shows (its first 5 digits and its last 2). Roles that see numbers whole keep every
criterion."""

import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import insert, update

from engage.engine import campaigns
from engage.engine.campaigns.trial_sends import send_test
from engage.engine.segments import audience, live
from engage.engine.segments import store as segments
from engage.engine.segments.criteria import SegmentError
from engage.engine.store.schema import InboundMessage, Message, Subscriber
from engage.engine.templates import store as templates
from engage.engine.users.scope import Scope
from tests import subscriber_story as story
from tests.branch_people import token_for
from tests.fixtures.web import serving

MASKED_ROLES = ("analyst", "partner", "approver", "marketer")
MASKED = Scope(show_numbers=False)
SEES_NUMBERS = Scope(show_numbers=True)
N7 = {"field": "first_name", "value": "N7"}
BEYOND_THE_MASK = "masked roles may not select by number beyond its first 5 digits"

PEOPLE = [  # ids given out of number order: a sample must not come in number order
    {"id": 5, "msisdn": "+998901000001", "first_name": "N1"},
    {"id": 4, "msisdn": "+998901000003", "first_name": "N3"},
    {"id": 3, "msisdn": "+998901000007", "first_name": "N7"},
    {"id": 2, "msisdn": "+998911000007", "first_name": "M7"},
    {"id": 1, "msisdn": "+998951234507", "first_name": "K7"},
]


@pytest.fixture
def people(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [{**p, "attributes": {}} for p in PEOPLE])
    return engine


@pytest.fixture
def api(people):
    with serving(people) as base:
        yield people, base


def _count(base, token, definition, **extra):
    return _call(base, "/api/v1/segments/count", token, {"definition": definition, **extra})


def _call(base, path, token, body=None, method=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method or ("POST" if data else "GET"),
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _masked_count(engine, definition):
    with engine.connect() as conn:
        return audience.count(conn, definition, scope=MASKED)


# the quoted attack ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_the_quoted_attack_is_a_400_naming_the_criterion_for_every_masked_role(api, role):
    engine, base = api
    token = token_for(engine, role)
    status, body = _count(base, token, {"and": [N7, {"field": "msisdn", "op": "starts_with",
                                                     "value": "+99890100000"}]})
    assert status == 400
    assert body["path"] == "segment.and[1]"
    assert BEYOND_THE_MASK in body["error"]


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_no_digit_of_a_masked_number_can_be_guessed_one_request_at_a_time(api, role):
    engine, base = api
    token = token_for(engine, role)
    answers = set()
    for criterion in ({"field": "msisdn", "op": "starts_with", "value": "+998901"},
                      {"field": "msisdn", "op": "eq", "value": "+998901000007"},
                      {"kind": "number_prefix", "prefixes": ["+998901"]}):
        for digit in "0123456789":
            guess = {**criterion, **({"prefixes": ["+99890" + digit]} if "prefixes" in criterion
                                     else {"value": criterion["value"][:-1] + digit})}
            status, body = _count(base, token, {"and": [N7, guess]})
            answers.add((status, body.get("matching")))
    assert answers == {(400, None)}


def test_an_admin_still_selects_by_the_whole_number(api):
    engine, base = api
    token = token_for(engine, "admin")
    status, body = _count(base, token, {"and": [N7, {"field": "msisdn", "op": "starts_with",
                                                     "value": "+99890100000"}]}, sample=1)
    assert (status, body["matching"]) == (200, 1)
    assert body["sample"][0]["msisdn"] == "+998901000007"


# every number operator --------------------------------------------------------------------------


@pytest.mark.parametrize(("op", "value"), [
    ("eq", "+998901000007"), ("ne", "+998901000007"), ("in", ["+998901000007"]), ("not_in", ["+998901000007"]),
    ("lt", "+998901000007"), ("le", "+998901000007"), ("gt", "+998901000007"), ("ge", "+998901000007"),
    ("between", ["+998901000000", "+998901000009"]), ("contains", "07"), ("starts_with", "+998901"),
])
def test_a_masked_scope_may_not_compare_the_number_beyond_its_visible_digits(people, op, value):
    with pytest.raises(SegmentError) as raised:
        _masked_count(people, {"and": [N7, {"field": "msisdn", "op": op, "value": value}]})
    assert raised.value.path == "segment.and[1]"
    assert BEYOND_THE_MASK in raised.value.message


@pytest.mark.parametrize("prefix", ["+998901", "998901", "+99890100000"])
def test_a_masked_scope_may_not_use_a_number_prefix_longer_than_the_mask_shows(people, prefix):
    with pytest.raises(SegmentError) as raised:
        _masked_count(people, {"kind": "number_prefix", "prefixes": ["+99891", prefix]})
    assert BEYOND_THE_MASK in raised.value.message


def test_a_masked_scope_selects_by_the_country_and_network_code_the_mask_shows(people):
    assert _masked_count(people, {"field": "msisdn", "op": "starts_with", "value": "+99890"})["matching"] == 3
    assert _masked_count(people, {"kind": "number_prefix", "prefixes": ["+99891", "99895"]})["matching"] == 2


def test_a_masked_scope_may_ask_whether_a_number_is_there_at_all(people):
    assert _masked_count(people, {"field": "msisdn", "op": "not_empty"})["matching"] == 5
    assert _masked_count(people, {"field": "msisdn", "op": "empty"})["matching"] == 0


def test_a_scope_that_sees_numbers_keeps_every_number_criterion(people):
    with people.connect() as conn:
        for criterion in ({"field": "msisdn", "op": "eq", "value": "+998901000007"},
                          {"field": "msisdn", "op": "contains", "value": "1000007"},
                          {"kind": "number_prefix", "prefixes": ["+9989010000"]}):
            assert audience.count(conn, {"and": [N7, criterion]}, scope=SEES_NUMBERS)["matching"] == 1


def test_live_counts_refuse_the_attack_too(api):
    engine, base = api
    token = token_for(engine, "analyst")
    live.enable(engine, wait=True)
    try:
        status, body = _count(base, token, {"and": [N7, {"field": "msisdn", "op": "eq", "value": "+998901000007"}]})
        allowed = _count(base, token, {"field": "msisdn", "op": "starts_with", "value": "+99890"})[1]
    finally:
        live.disable(engine)
    assert status == 400 and BEYOND_THE_MASK in body["error"]
    assert allowed["matching"] == 3 and "live" in allowed


# saved and included segments --------------------------------------------------------------------


def _admins_segment(engine, definition, name="by number"):
    with engine.begin() as conn:
        return segments.create(conn, name, definition, actor="admin@example.com")


def test_a_masked_role_cannot_reach_a_number_criterion_through_a_saved_segment(api):
    engine, base = api
    segment_id = _admins_segment(engine, {"field": "msisdn", "op": "starts_with", "value": "+99890100000"})
    status, body = _count(base, token_for(engine, "marketer"),
                          {"and": [N7, {"kind": "in_segment", "segment_id": segment_id}]})
    assert status == 400
    assert body["path"] == f"segment.and[1].segment[{segment_id}]"
    assert BEYOND_THE_MASK in body["error"]


def test_a_masked_role_cannot_save_a_number_criterion(api):
    engine, base = api
    status, body = _call(base, "/api/v1/segments", token_for(engine, "marketer"),
                         {"name": "guess", "definition": {"field": "msisdn", "op": "eq", "value": "+998901000007"}})
    assert status == 400 and BEYOND_THE_MASK in body["error"]
    with engine.connect() as conn:
        assert segments.visible(conn, None) == []


def test_a_masked_role_cannot_change_a_segment_into_a_number_criterion(api):
    engine, base = api
    segment_id = _admins_segment(engine, N7, name="N7")
    status, body = _call(base, f"/api/v1/segments/{segment_id}", token_for(engine, "marketer"),
                         {"definition": {"and": [N7, {"kind": "number_prefix", "prefixes": ["+9989010"]}]}},
                         method="PUT")
    assert status == 400 and BEYOND_THE_MASK in body["error"]
    with engine.connect() as conn:
        assert segments.get(conn, segment_id, None)["definition"] == N7


def test_a_campaign_launched_on_an_admins_number_segment_still_selects_by_it(people):
    segment_id = _admins_segment(people, {"field": "msisdn", "op": "eq", "value": "+998901000007"})
    with people.connect() as conn:
        definition = segments.get(conn, segment_id, None)["definition"]
        where = audience.condition(conn, definition, Scope(show_numbers=True))
        assert conn.execute(Subscriber.__table__.select().where(where)).one().first_name == "N7"


@pytest.mark.parametrize("role", ["marketer", "analyst"])
def test_a_saved_definition_shows_a_masked_role_no_more_of_a_number_than_the_mask(api, role):
    engine, base = api
    segment_id = _admins_segment(engine, {"or": [{"field": "msisdn", "op": "in", "value": ["+998901000007"]},
                                                 {"kind": "number_prefix", "prefixes": ["+9989010000", "+99891"]},
                                                 N7]})
    token = token_for(engine, role)
    one = _call(base, f"/api/v1/segments/{segment_id}", token)[1]["definition"]
    listed = _call(base, "/api/v1/segments", token)[1]["segments"][0]["definition"]
    shown = {"or": [{"field": "msisdn", "op": "in", "value": ["+99890*****07"]},
                    {"kind": "number_prefix", "prefixes": ["+99890…", "+99891"]}, N7]}
    assert one == shown and listed == shown


def test_a_saved_definition_shows_an_admin_the_whole_number(api):
    engine, base = api
    definition = {"field": "msisdn", "op": "eq", "value": "+998901000007"}
    segment_id = _admins_segment(engine, definition)
    assert _call(base, f"/api/v1/segments/{segment_id}", token_for(engine, "admin"))[1]["definition"] == definition


# samples ----------------------------------------------------------------------------------------


def test_a_masked_sample_comes_in_id_order_never_in_number_order(people):
    with people.connect() as conn:
        answer = audience.count(conn, {"kind": "number_prefix", "prefixes": ["+998"]}, scope=MASKED, sample=5)
    assert [s["id"] for s in answer["sample"]] == [1, 2, 3, 4, 5]
    assert [s["msisdn"] for s in answer["sample"]] == ["+99895*****07", "+99891*****07", "+99890*****07",
                                                      "+99890*****03", "+99890*****01"]


# a subscriber's history --------------------------------------------------------------------------


@pytest.fixture
def told_their_number(engine):
    """Aziz, sent a message that quotes his number, and his reply that quotes it back without its '+'
    and as dialled at home (his national number)."""
    ids = story.add_people(engine)
    sent = story.message_and_reply(engine, story.AZIZ)
    with engine.begin() as conn:
        conn.execute(update(Message).where(Message.id == sent["message_id"]).values(
            body=f"Aziz, your line {story.AZIZ} has won a prize"))
        conn.execute(update(InboundMessage).values(text="is it 998901000001 or 901000001?"))
    with serving(engine) as base:
        yield engine, base, ids[story.AZIZ]


@pytest.mark.parametrize("role", ["marketer", "analyst"])
def test_a_history_shows_a_masked_role_the_number_masked_in_what_was_said(told_their_number, role):
    engine, base, aziz = told_their_number
    status, body = _call(base, f"/api/v1/subscribers/{aziz}", token_for(engine, role))
    assert status == 200
    said = {e["kind"]: e for e in body["history"]}
    assert said["message"]["body"] == "Aziz, your line +99890*****01 has won a prize"
    assert said["reply"]["text"] == "is it +99890*****01 or +99890*****01?"
    assert "1000001" not in json.dumps(body)


def test_a_history_shows_support_the_whole_number_in_what_was_said(told_their_number):
    engine, base, aziz = told_their_number
    body = _call(base, f"/api/v1/subscribers/{aziz}", token_for(engine, "support"))[1]
    said = {e["kind"]: e for e in body["history"]}
    assert said["message"]["body"] == "Aziz, your line +998901000001 has won a prize"
    assert said["reply"]["text"] == "is it 998901000001 or 901000001?"


# test sends -------------------------------------------------------------------------------------


def _test_sent_to(engine, number):
    """A marketer's test send of a campaign on everyone, to one number they guess."""
    with engine.begin() as conn:
        template_id = templates.create(conn, f"t {number}", {"en": "Hi"}, default_language="en",
                                       actor="marketer@example.com")
        segment_id = segments.create(conn, f"all {number}", {"kind": "all"}, actor="marketer@example.com")
        campaign_id = campaigns.create(conn, name="offer", segment_id=segment_id, template_id=template_id,
                                       sender_id="Shop", actor="marketer@example.com")
    return send_test(engine, campaign_id, [number], actor="marketer@example.com")["test_campaign_id"]


def test_a_test_send_to_a_guessed_number_tells_a_masked_role_nothing_of_whose_it_is(api):
    engine, base = api
    token = token_for(engine, "marketer")
    answers = set()
    for guess in ("+998901000007", "+998901000008"):  # N7's number, and a wrong guess
        test_id = _test_sent_to(engine, guess)
        status, body = _count(base, token, {"and": [N7, {"kind": "received_campaign", "campaign_id": test_id}]})
        answers.add((status, body.get("matching")))
    assert answers == {(200, 0)}


# what the builder offers ------------------------------------------------------------------------


def _number_operators(base, token):
    kinds = {k["kind"]: k for k in _call(base, "/api/v1/segments/kinds", token)[1]["kinds"]}
    return next(f["operators"] for f in kinds["field"]["fields"] if f["name"] == "msisdn")


def test_the_criterion_kinds_offer_a_masked_role_only_the_number_operators_it_may_use(api):
    engine, base = api
    assert _number_operators(base, token_for(engine, "marketer")) == ["starts_with", "empty", "not_empty"]


def test_the_criterion_kinds_offer_an_admin_every_number_operator(api):
    engine, base = api
    assert {"eq", "in", "lt", "between", "contains"} <= set(_number_operators(base, token_for(engine, "admin")))
