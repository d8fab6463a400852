"""Templates cannot hold the web process: the preview answers a template over a limit with a 400 naming
the limit, quickly, while sign-in pages keep answering; a save is refused naming the variant, line
and limit; a template saved before the limits existed still opens quickly, showing its error."""

from __future__ import annotations

import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import insert

from engage.engine.store.schema import Template, TemplateVariant
from tests.fixtures.web import serving
from tests.test_audience_api import _call
from tests.test_template_limits import FOUND


@pytest.fixture
def api(engine):
    with serving(engine, tokens="hq-token") as base:
        yield base


@pytest.mark.parametrize("body", list(FOUND), ids=["x*10**9", "x*10**8", "replace chain", "seven loops", "10**100000"])
def test_a_preview_over_a_limit_is_a_400_naming_it_within_a_second(api, body):
    started = time.perf_counter()
    status, answer = _call(api, "/api/v1/templates/preview", {"body": body, "language": "en"})
    assert time.perf_counter() - started < 1
    assert status == 400 and FOUND[body] in answer["error"] and answer["line"] == 1


def test_sign_in_answers_while_heavy_previews_run(api):
    def preview(body: str) -> int:
        return _call(api, "/api/v1/templates/preview", {"body": body, "language": "en"})[0]

    with ThreadPoolExecutor(8) as pool:
        previews = [pool.submit(preview, body) for body in list(FOUND) * 4]
        started = time.perf_counter()
        with urllib.request.urlopen(api + "/login", timeout=10) as response:
            assert response.status == 200
        assert time.perf_counter() - started < 1
        assert {p.result() for p in previews} == {400}


def test_saving_a_template_over_a_limit_is_refused_naming_variant_line_and_limit(api):
    status, answer = _call(api, "/api/v1/templates", {"name": "heavy", "variants": {
        "en": "Hi {{ first_name }}", "ru": "Привет\n{{ 'x' * 10**8 }}"}})
    assert (status, answer) == (400, {"error": "variant 'ru': line 2: cannot render: text over 65,536 characters"})
    assert _call(api, "/api/v1/templates")[1]["templates"] == []


def test_a_heavy_template_saved_before_the_limits_opens_within_a_second_showing_its_error(engine, api):
    with engine.begin() as conn:
        template_id = conn.execute(insert(Template.__table__).values(name="old", default_language="en")
                                   ).inserted_primary_key[0]
        conn.execute(insert(TemplateVariant.__table__).values(template_id=template_id, language="en", arm="A",
                                                              body="{{ 'x' * 10**7 }}"))
    for _ in range(3):
        started = time.perf_counter()
        status, answer = _call(api, f"/api/v1/templates/{template_id}")
        assert time.perf_counter() - started < 1
        assert status == 200 and answer["variants"][0]["error"] == "line 1: cannot render: text over 65,536 characters"


def test_saving_a_body_of_960_kb_is_a_400_naming_the_limit_within_a_second(api):
    started = time.perf_counter()
    status, answer = _call(api, "/api/v1/templates", {"name": "huge", "variants": {"en": "{{ first_name }}" * 60_000}})
    assert time.perf_counter() - started < 1
    assert (status, answer) == (400, {"error": "variant 'en': the text is over 5,000 characters (960,000 given)"})


def test_saving_300_nested_ifs_is_a_400_not_a_500(api):
    status, answer = _call(api, "/api/v1/templates", {"name": "deep", "variants": {
        "en": "{% if 1 %}" * 300 + "x" + "{% endif %}" * 300}})
    assert status == 400 and "over 5,000 characters" in answer["error"]
    status, answer = _call(api, "/api/v1/templates", {"name": "deep", "variants": {
        "en": "{% if 1 %}" * 100 + "x" + "{% endif %}" * 100}})
    assert status == 400 and answer["error"].startswith("variant 'en': line 1, column 204: brackets and blocks nested")


def test_a_preview_of_150_nested_brackets_is_a_400_naming_the_nesting(api):
    status, answer = _call(api, "/api/v1/templates/preview", {"body": "{{ " + "(" * 150 + "1" + ")" * 150 + " }}"})
    assert status == 400 and "nested over 20 deep" in answer["error"] and answer["line"] == 1


def test_a_preview_of_a_decimal_past_the_digit_limit_is_a_400_while_sign_in_answers(api):
    with ThreadPoolExecutor(1) as pool:
        preview = pool.submit(_call, api, "/api/v1/templates/preview", {"body": "{{ balance.scaleb(999990)|int }}"})
        started = time.perf_counter()
        with urllib.request.urlopen(api + "/login", timeout=10) as response:
            assert response.status == 200
        assert time.perf_counter() - started < 1
        status, answer = preview.result()
    assert status == 400 and "number over 1,000 digits" in answer["error"]
