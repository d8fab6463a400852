"""Membership kinds: saved segments, static lists, tags, number ranges and consent."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from engage.engine.segments.criteria import CompileContext, SegmentError, compile_node
from engage.engine.store.schema import OptOut, StaticList, StaticListMember, Subscriber, SubscriberTag

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
PEOPLE = {"ali": "+998901000001", "bea": "+998911000002", "cem": "+998931000003", "dan": "+79161000004"}
SAVED = {
    1: {"field": "city", "value": "Tashkent"},
    2: {"and": [{"kind": "in_segment", "segment_id": 1}, {"kind": "number_prefix", "prefixes": ["+99890"]}]},
    3: {"or": [{"kind": "in_segment", "segment_id": 4}]},
    4: {"and": [{"kind": "all"}, {"kind": "in_segment", "segment_id": 5}]},
    5: {"kind": "in_segment", "segment_id": 3},
    6: {"kind": "in_segment", "segment_id": 6},
    7: {"kind": "in_segment", "segment_id": 99},
    8: {"field": "city", "value": ["not", "a", "scalar"]},
}


def ctx(**kw):
    return CompileContext(now=NOW, load_segment=SAVED.get, **kw)


def who(engine, definition, context=None):
    with engine.connect() as conn:
        return sorted(conn.execute(select(Subscriber.first_name).where(
            compile_node(definition, ctx=context or ctx()))).scalars())


@pytest.fixture
def people(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"id": i, "first_name": name, "msisdn": msisdn, "city": "Tashkent" if i < 3 else "Bukhara"}
            for i, (name, msisdn) in enumerate(PEOPLE.items(), start=1)])
        conn.execute(insert(SubscriberTag.__table__), [
            {"subscriber_id": 1, "tag": "vas_music"}, {"subscriber_id": 1, "tag": "vas_news"},
            {"subscriber_id": 2, "tag": "vas_music"}, {"subscriber_id": 3, "tag": "vas_news"}])
        conn.execute(insert(StaticList.__table__), [{"id": 1, "name": "winners"}, {"id": 2, "name": "other"}])
        conn.execute(insert(StaticListMember.__table__), [
            {"list_id": 1, "msisdn": "+998911000002"}, {"list_id": 1, "msisdn": "+998931000003"},
            {"list_id": 1, "msisdn": "+998000000000"}, {"list_id": 2, "msisdn": "+998901000001"}])
        conn.execute(insert(OptOut.__table__), [
            {"msisdn": "+998901000001", "channel": "sms"}, {"msisdn": "+998911000002", "channel": "ussd"}])
    return engine


def test_in_segment_compiles_the_saved_definition_inline(people):
    assert who(people, {"kind": "in_segment", "segment_id": 1}) == ["ali", "bea"]


def test_in_segment_nests_saved_segments_within_saved_segments(people):
    assert who(people, {"kind": "in_segment", "segment_id": 2}) == ["ali"]


def test_in_segment_cycle_is_an_error_naming_the_cycle():
    with pytest.raises(SegmentError) as err:
        compile_node({"kind": "in_segment", "segment_id": 3}, ctx=ctx())
    assert err.value.message == "segment cycle: 3 -> 4 -> 5 -> 3"
    assert err.value.path == "segment.segment[3].or[0].segment[4].and[1].segment[5]"


def test_a_segment_that_includes_itself_is_caught_when_compiled_as_itself():
    with pytest.raises(SegmentError, match=r"segment cycle: 6 -> 6"):
        compile_node(SAVED[6], ctx=ctx(stack=(6,)))


def test_in_segment_of_an_unknown_segment_is_an_error():
    with pytest.raises(SegmentError) as err:
        compile_node({"and": [{"kind": "in_segment", "segment_id": 7}]}, ctx=ctx())
    assert (err.value.path, err.value.message) == ("segment.and[0].segment[7]", "segment 99 does not exist")


def test_an_error_inside_an_included_segment_says_which_segment_holds_it():
    with pytest.raises(SegmentError) as err:
        compile_node({"kind": "in_segment", "segment_id": 8}, ctx=ctx())
    assert err.value.path == "segment.segment[8]"
    assert "city: needs a single value" in err.value.message


def test_in_segment_without_a_segment_loader_is_an_error():
    with pytest.raises(SegmentError, match="saved segments are not available"):
        compile_node({"kind": "in_segment", "segment_id": 1}, ctx=CompileContext(now=NOW))


def test_in_list_selects_subscribers_whose_number_is_on_the_list(people):
    assert who(people, {"kind": "in_list", "list_id": 1}) == ["bea", "cem"]
    assert who(people, {"kind": "in_list", "list_id": 42}) == []


def test_has_tag_any_of(people):
    assert who(people, {"kind": "has_tag", "tags": ["vas_music", "vas_games"]}) == ["ali", "bea"]


def test_has_tag_all_of(people):
    assert who(people, {"kind": "has_tag", "tags": ["vas_music", "vas_news"], "match": "all"}) == ["ali"]


def test_number_prefix_with_or_without_plus(people):
    assert who(people, {"kind": "number_prefix", "prefixes": ["+99890", "99893"]}) == ["ali", "cem"]
    assert who(people, {"kind": "number_prefix", "prefixes": ["7"]}) == ["dan"]


def test_opted_out_per_channel_and_its_negation(people):
    assert who(people, {"kind": "opted_out"}) == ["ali"]
    assert who(people, {"kind": "opted_out", "channel": "ussd"}) == ["bea"]
    assert who(people, {"kind": "opted_out", "channel": "sms", "value": False}) == ["bea", "cem", "dan"]


def test_kinds_keep_their_own_tables_when_the_query_joins_the_same_tables(people):
    """A count that LEFT JOINs opt_outs (as the audience count does) must not capture the
    criterion's own opt_outs lookup."""
    joined = Subscriber.__table__.outerjoin(OptOut.__table__, (OptOut.msisdn == Subscriber.msisdn) & (
        OptOut.channel == "sms"))
    with people.connect() as conn:
        names = conn.execute(select(Subscriber.first_name).select_from(joined).where(
            compile_node({"kind": "opted_out", "channel": "ussd"}, ctx=ctx()))).scalars().all()
    assert names == ["bea"]


@pytest.mark.parametrize(("definition", "why"), [
    ({"kind": "in_segment", "segment_id": "1"}, "'segment_id' must be a whole number"),
    ({"kind": "in_list", "list_id": 0}, "'list_id' must be between 1"),
    ({"kind": "has_tag", "tags": []}, "'tags' must be a non-empty list"),
    ({"kind": "has_tag", "tags": ["a", 3]}, "'tags' items must be non-empty text"),
    ({"kind": "has_tag", "tags": ["a"], "match": "some"}, "'match' must be one of any, all"),
    ({"kind": "number_prefix", "prefixes": ["+998%"]}, "prefix '+998%' must be digits"),
    ({"kind": "opted_out", "channel": "email"}, "'channel' must be one of sms, ussd"),
])
def test_a_bad_membership_criterion_is_an_error_saying_why(definition, why):
    with pytest.raises(SegmentError) as err:
        compile_node(definition, ctx=ctx())
    assert err.value.path == "segment"
    assert why in err.value.message
