"""The web process answers bad requests with a status and a reason, never a reset connection, a 500
or a Python message: uploads over ENGAGE_MAX_UPLOAD_MB are a 413 the client reads, however the body
is sent."""

from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest

from tests.fixtures.web import serving, signed_in

TOKEN = "hygiene-token"
MB = 1 << 20


@pytest.fixture
def small_uploads(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ENGAGE_MAX_UPLOAD_MB", "1")


@pytest.fixture
def api(engine, small_uploads):
    with serving(engine, tokens=TOKEN) as base:
        yield engine, base


def _post(base: str, path: str, body, headers: dict[str, str], **kwargs) -> tuple[int, str]:
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        conn.request("POST", path, body=body, headers=headers, **kwargs)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_an_upload_announced_over_the_limit_is_a_413_the_client_reads(api):
    _, base = api
    status, body = _post(base, "/api/v1/imports?filename=big.csv", b"x" * (6 * MB),
                         {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/csv"})
    assert status == 413 and "larger than the limit of 1 MB" in json.loads(body)["error"]


def test_a_chunked_upload_over_the_limit_is_a_413_the_client_reads(api):
    _, base = api
    chunks = (b"x" * (64 * 1024) for _ in range(6 * 16))  # 6 MB, no Content-Length
    status, body = _post(base, "/api/v1/imports?filename=big.csv", chunks,
                         {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/csv",
                          "Transfer-Encoding": "chunked"}, encode_chunked=True)
    assert status == 413 and "larger than the limit of 1 MB" in json.loads(body)["error"]


def test_the_import_form_over_the_limit_is_a_413_page_that_says_so(site, small_uploads, quick_hashes):
    engine, base = site
    browser = signed_in(engine, base, "admin")
    boundary = "hygieneboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"_xsrf\"\r\n\r\n{browser.cookie('_xsrf')}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode() + b"x" * (6 * MB) + f"\r\n--{boundary}--\r\n".encode()
    cookies = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    status, page = _post(base, "/subscribers/import", body,
                         {"Content-Type": f"multipart/form-data; boundary={boundary}", "Cookie": cookies})
    assert status == 413 and "larger than the limit of 1 MB" in page
