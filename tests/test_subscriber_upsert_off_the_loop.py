"""POST /api/v1/subscribers stores up to 10,000 records at once: it runs off the web process's IO
loop, so that an integration's batch does not hold up every other request, sign-in included."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from engage.engine.store.schema import Subscriber
from engage.web import subscribers_api
from tests.fixtures.web import serving
from tests.off_loop_checks import assert_sign_in_answers_at_once, in_background, signal_on_call
from tests.test_audience_api import _call


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a table lock stands in for a long
def test_the_sign_in_page_answers_at_once_while_a_batch_of_subscribers_is_stored(engine, monkeypatch):  # batch
    records = [{"msisdn": f"+99890{i:07d}", "first_name": f"N{i}"} for i in range(1, 1001)]
    storing = signal_on_call(monkeypatch, subscribers_api, "upsert_records")
    with serving(engine, tokens="hq-token") as base, engine.connect() as holder:
        holder.execute(text("LOCK TABLE subscribers IN ACCESS EXCLUSIVE MODE"))  # the batch waits on it
        with in_background(lambda: _call(base, "/api/v1/subscribers", {"subscribers": records})) as answered:
            try:
                assert storing.wait(5)
                assert_sign_in_answers_at_once(base, held=answered)
            finally:
                holder.rollback()
    status, report = answered[0]
    assert status == 200, report  # the batch was still waiting when the sign-in page answered
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Subscriber.__table__)).scalar_one() == 1000
