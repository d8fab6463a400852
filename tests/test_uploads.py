"""Uploads streamed to disk: a multipart form gives the same file and fields however the body is cut
into chunks on the wire, and a bad or oversized body is refused with a status and a reason."""

from __future__ import annotations

import pytest

from engage.web.uploads import Upload, UploadError

BOUNDARY = "----engage1234"
CSV = "msisdn,city\r\n+998901110001,Samarkand\r\n" * 50


def form(*parts: tuple[str, str | None, str]) -> bytes:
    """(field name, file name or None, content) -> a multipart/form-data body."""
    out = []
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.append(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n{content}\r\n")
    return ("".join(out) + f"--{BOUNDARY}--\r\n").encode()


def receive(tmp_path, body: bytes, chunk: int, limit: int = 1 << 20) -> Upload:
    upload = Upload(tmp_path, f"multipart/form-data; boundary={BOUNDARY}", limit)
    for at in range(0, len(body), chunk):
        upload.feed(body[at:at + chunk])
    return upload


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_the_file_and_fields_arrive_whole_however_the_body_is_cut(tmp_path, chunk):
    body = form(("_xsrf", None, "token-123"), ("file", "people.csv", CSV))
    upload = receive(tmp_path, body, chunk)
    path = upload.end()
    assert path.read_bytes() == CSV.encode()
    assert upload.fields == {"_xsrf": "token-123"}
    assert upload.filename == "people.csv"


def test_a_second_file_is_skipped_and_the_first_kept(tmp_path):
    upload = receive(tmp_path, form(("file", "a.csv", "first"), ("file", "b.csv", "second")), 5)
    assert upload.end().read_text() == "first"


def test_a_form_without_the_file_field_is_refused(tmp_path):
    upload = receive(tmp_path, form(("other", "a.csv", "x")), 64)
    with pytest.raises(UploadError, match="no 'file' field") as refused:
        upload.end()
    assert refused.value.status == 400


def test_a_body_cut_short_is_refused_and_its_file_removed(tmp_path):
    body = form(("file", "people.csv", CSV))
    upload = receive(tmp_path, body[: len(body) // 2], 64)
    with pytest.raises(UploadError, match="ends early"):
        upload.end()
    assert not upload.path.exists()


def test_a_malformed_body_is_refused(tmp_path):
    upload = receive(tmp_path, f"--{BOUNDARY}\r\nno headers end here".encode() + b"x" * 20_000, 64)
    with pytest.raises(UploadError) as refused:
        upload.end()
    assert refused.value.status == 400


def test_a_file_over_the_limit_is_refused_with_413(tmp_path):
    upload = receive(tmp_path, form(("file", "big.csv", CSV)), 64, limit=100)
    with pytest.raises(UploadError, match="larger than the limit") as refused:
        upload.end()
    assert refused.value.status == 413
    assert not upload.path.exists()


def test_a_file_name_loses_its_directories(tmp_path):
    upload = receive(tmp_path, form(("file", "C:\\\\Users\\\\mara\\\\..\\\\people.csv", CSV)), 64)
    upload.end()
    assert upload.filename == "people.csv"
