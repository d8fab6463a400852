"""POST /api/v1/templates/preview: what the editor shows as the marketer types, open to integrations
with a token: the text for a sample recipient with its encoding and parts, or the mistake's place."""

from __future__ import annotations

import pytest

from tests.fixtures.web import serving
from tests.test_audience_api import _call


@pytest.fixture
def api(engine):
    with serving(engine, tokens="hq-token") as base:
        yield base


def test_a_preview_gives_the_text_its_encoding_and_parts(api):
    status, body = _call(api, "/api/v1/templates/preview", {"body": "Привет, {{ first_name }}", "language": "ru"})
    assert status == 200
    assert body["encoding"] == "ucs2" and body["parts"] == 1 and body["text"].startswith("Привет, ")


def test_a_preview_of_a_mistake_gives_its_line_and_column(api):
    status, body = _call(api, "/api/v1/templates/preview", {"body": "Hi {{ first_name | shout }}"})
    assert status == 200 and (body["line"], body["column"]) == (1, 20) and "shout" in body["error"]


def test_a_preview_without_a_body_is_refused_saying_why(api):
    assert _call(api, "/api/v1/templates/preview", {"language": "en"}) == (
        400, {"error": "body: text of at most 5000 characters"})


def test_a_preview_without_a_token_is_refused(api):
    assert _call(api, "/api/v1/templates/preview", {"body": "x"}, token=None)[0] in (401, 403)
