"""The web process answers bad requests with a status and a reason, never a reset connection, a 500
or a Python message: uploads over ENGAGE_MAX_UPLOAD_MB are a 413 the client reads, however the body
is sent."""

from __future__ import annotations

import http.client
import json
import socket
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


# bodies and ids

def _api(base: str, method: str, path: str, raw: bytes | None = None) -> tuple[int, dict]:
    status, text = _request(base, method, path, raw)
    return status, json.loads(text)


def _request(base: str, method: str, path: str, raw: bytes | None = None) -> tuple[int, str]:
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        conn.request(method, path, body=raw, headers={"Authorization": f"Bearer {TOKEN}",
                                                      "Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.mark.parametrize("path", ["/api/v1/campaigns/99999999999999999999", "/api/v1/segments/9223372036854775808",
                                  "/api/v1/templates/99999999999999999999", "/api/v1/providers/99999999999999999999",
                                  "/api/v1/subscribers/99999999999999999999", "/api/v1/imports/99999999999999999999"])
def test_an_id_out_of_range_in_an_api_path_is_a_json_404(api, path):
    status, body = _api(api[1], "GET", path)
    assert status == 404 and "no such" in body["error"]


@pytest.mark.parametrize("path", ["/api/v1/campaigns/2147483648", "/api/v1/campaigns/2147483648/stats",
                                  "/api/v1/templates/2147483648", "/api/v1/segments/4294967296",
                                  "/api/v1/imports/2147483648/rejected.csv", "/api/v1/subscribers/9223372036854775807"])
def test_an_id_past_its_columns_range_is_a_json_404_on_every_database(api, path):
    status, body = _api(api[1], "GET", path)
    assert status == 404, body


@pytest.mark.parametrize("path", ["/campaigns/99999999999999999999", "/segments/99999999999999999999",
                                  "/templates/99999999999999999999", "/subscribers/99999999999999999999"])
def test_an_id_out_of_range_in_a_page_path_is_a_404(site, quick_hashes, path):
    engine, base = site
    assert signed_in(engine, base, "admin").get(path).status == 404


@pytest.mark.parametrize(("raw", "named"), [
    (b'{"name": "a\\u0000b", "definition": {"kind": "all"}}', "name: contains a NUL character"),
    (b'{"name": "\\ud800", "definition": {"kind": "all"}}', "name: contains a lone surrogate"),
    (b'{"name": "x", "definition": {"and": [{"field": "city", "op": "eq", "value": "\\udfff"}]}}',
     "definition.and[0].value: contains a lone surrogate"),
    (b'{"name": "x", "definition": {"kind": "all", "n": 99999999999999999999}}',
     "definition.n: 99999999999999999999 is out of range"),
    (b'{"name": "x", "definition": ' + b"[" * 5000 + b"]" * 5000 + b"}", "body: nested deeper than"),
    (b'{"name": ' + b"1" * 5000 + b"}", "name: a number of 5000 digits is out of range"),
    (b"\xff\xfe{}", "body: not UTF-8"),
    (b'{"name": NaN}', "body: not JSON"),
    (b'{"name": "x", "x": [' + b"[]," * 200_000 + b'[]]}', "body: more than 200,000 lists and objects"),
], ids=["nul", "surrogate", "nested-surrogate", "int64", "deep", "huge-number", "not-utf8", "nan", "containers"])
def test_a_json_body_that_no_field_could_hold_is_a_400_naming_where(api, raw, named):
    status, body = _api(api[1], "POST", "/api/v1/segments", raw)
    assert status == 400 and body["error"].startswith(named), body


def test_an_unexpected_failure_is_a_500_with_a_reference_never_the_exception(api, caplog, monkeypatch):
    from engage.engine.segments import store
    monkeypatch.setattr(store, "visible", lambda *a, **k: (_ for _ in ()).throw(KeyError("secret internals")))
    status, body = _api(api[1], "GET", "/api/v1/segments")
    assert status == 500 and "secret internals" not in json.dumps(body)
    reference = body["reference"]
    assert body["error"] == f"an internal error; its reference in the server's log is {reference}"
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_json_body_over_the_limit_is_refused_before_it_is_read(api):
    from engage.web.app import MAX_BODY_BYTES

    parts = urllib.parse.urlsplit(api[1])
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(f"POST /api/v1/segments/count HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode())
        answer = sock.recv(200)  # answered without a byte of the body: it was never going to be read
    assert answer.startswith(b"HTTP/1.1 400"), answer


def test_a_json_body_within_the_limit_is_read(api):
    status, text = _post(api[1], "/api/v1/segments/count", json.dumps({"definition": {"kind": "all"}}),
                         {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert status == 200, text
