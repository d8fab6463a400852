"""Fuzz: generated bodies and ids thrown at every /api/v1 operation (the OpenAPI document's list, so a
new endpoint is fuzzed as soon as it is documented), on PostgreSQL over real HTTP, by a deployment
token and by a branch-bound partner's token. Whatever is sent: never a 500, never Python's own words
in an error, an answer within a bounded time, and the process still answers afterwards."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage.engine.segments import store as segments
from engage.engine.store.database import make_engine
from engage.engine.users import api_tokens
from engage.web.openapi import OPERATIONS
from tests.campaign_setup import add_subscribers
from tests.fixtures.databases import drop_postgres, fresh_postgres_url
from tests.fixtures.web import add_user, serving

FIELDS = ["name", "definition", "body", "language", "default_language", "variants", "segment_id", "template_id",
          "sender_id", "schedule", "msisdn", "subscribers", "rows", "branch", "kind", "config", "tps", "reason",
          "actor", "tags", "attributes", "first_name", "op", "value", "field", "and", "or", "not", "prefixes",
          "quiet_hours", "arms", "control_share", "cap", "timezone", "local_time", "max_rate", "password"]
NASTY = st.sampled_from(["\x00", "\ud800", "a\udfffb", "<!--<script>", "{{ 'x'*10**9 }}", "{{ 10**100000 }}",
                         "99999999999999999999", "-1", "", " ", "'; drop table subscribers; --", "+998901000007",
                         "%s", "{0.__class__}", "x" * 70_000, "Привет", "😀"])
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=30) | NASTY)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), inner, max_size=6),
                      max_leaves=25)
BODIES = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8) | VALUES
IDS = st.sampled_from(["1", "2", "0", "99999999999999999999", "18446744073709551616", "9223372036854775808"]) \
    | st.integers(0, 10**25).map(str)
LEAKS = re.compile(r"Traceback|got an unexpected keyword|got multiple values|has no attribute|unhashable type|"
                   r"NoneType|object is not subscriptable|invalid literal for int|psycopg|sqlalchemy|sqlite3")
DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture(scope="module")
def api() -> Iterator[dict[str, Any]]:
    """One app on one PostgreSQL database for the whole module: fuzzing changes it as it goes, as a
    real deployment would be changed, and every answer must hold whatever state it reached."""
    name, url = fresh_postgres_url(migrated=True)
    engine = make_engine(url)
    add_subscribers(engine, 5)
    with engine.begin() as conn:
        segments.create(conn, "everyone", {"kind": "all"}, actor="fuzz")
    partner = add_user(engine, "partner-north@example.com", "partner", branch="north")
    with engine.begin() as conn:
        partner_token = api_tokens.issue(conn, partner, "fuzz", created_by="fuzz")
    with serving(engine, tokens="fuzz-token") as base:
        _call(base, "POST", "/api/v1/templates", {"name": "hi", "default_language": "en",
                                                  "variants": {"en": "Hi {{ first_name }}"}}, "fuzz-token")
        _call(base, "POST", "/api/v1/campaigns", {"name": "offer", "segment_id": 1, "template_id": 1,
                                                  "sender_id": "Shop"}, "fuzz-token")
        yield {"base": base, "tokens": ["fuzz-token", partner_token]}
    engine.dispose()
    drop_postgres(name)


def _call(base: str, method: str, path: str, body: Any, token: str, *, raw: bytes | None = None
          ) -> tuple[int, str, float]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method=method.upper(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace"), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace"), time.monotonic() - started


def _check(status: int, text: str, seconds: float, what: str) -> None:
    assert status < 500, f"{what}: {status} {text[:300]}"
    assert not LEAKS.search(text), f"{what}: the answer leaks internals: {text[:300]}"
    assert seconds < 3, f"{what}: took {seconds:.1f} s"


OPERATION_LIST = [(path, method, takes_body) for path, methods in OPERATIONS.items()
                  for method, (_summary, takes_body) in methods.items()]


@pytest.mark.parametrize(("path", "method", "takes_body"), OPERATION_LIST,
                         ids=[f"{m.upper()} {p}" for p, m, _b in OPERATION_LIST])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(body=BODIES, object_id=IDS, who=st.integers(0, 1))
def test_generated_requests_never_get_a_500_or_hang(api: dict[str, Any], path: str, method: str,
                                                     takes_body: bool, body: Any, object_id: str,
                                                     who: int) -> None:
    target = path.replace("{id}", object_id)
    status, text, seconds = _call(api["base"], method, target, body if takes_body or method != "get" else None,
                                  api["tokens"][who])
    _check(status, text, seconds, f"{method.upper()} {target} {json.dumps(body)[:200]}")


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, b in OPERATION_LIST if b])
@pytest.mark.parametrize("raw", [b"\xff\xfe not utf-8", DEEP.encode(), b'{"name": "a\\u0000b"}',
                                 b'{"name": "\\ud800"}', b'{"name": ' + b"1" * 5000 + b"}", b"[]", b'"x"'],
                         ids=["not-utf8", "deep", "nul", "surrogate", "huge-int", "array", "string"])
def test_malformed_bodies_are_a_4xx_naming_the_body(api: dict[str, Any], path: str, method: str, raw: bytes) -> None:
    target = path.replace("{id}", "1")
    status, text, seconds = _call(api["base"], method, target, None, "fuzz-token", raw=raw)
    _check(status, text, seconds, f"{method.upper()} {target} {raw[:40]!r}")


def test_the_process_still_answers_after_the_fuzzing(api: dict[str, Any]) -> None:
    status, text, _seconds = _call(api["base"], "GET", "/api/v1/segments/kinds", None, "fuzz-token")
    assert status == 200, text
