"""Files uploaded to the web process, streamed to disk as they arrive (a 200 MB subscriber file
never sits in memory): as the request's raw body (API clients: curl --data-binary) or as the
"file" field of a multipart/form-data form (the browser). The size limit is ENGAGE_MAX_UPLOAD_MB.

Used by handlers decorated with tornado.web.stream_request_body: begin() in prepare(), once the
caller is known to be allowed, feed() from data_received(), end() in post()."""

from __future__ import annotations

import email.message
import email.utils
import re
import secrets
from pathlib import Path, PureWindowsPath
from typing import Any, BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

FILE_FIELD = "file"
SLACK = 1 << 20  # multipart framing and form fields on top of the file's own size
DRAIN = 1 << 30  # bytes past the limit read and dropped, so that the client gets to read the 413
MAX_FIELDS = 64 * 1024  # bytes of ordinary form fields, all told
MAX_PART_HEADERS = 16 * 1024


class UploadError(Exception):
    """An upload refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def clean_filename(name: str | None, default: str = "upload") -> str:
    """The name a person gave the file, for showing: no directories, no control characters."""
    base = PureWindowsPath(name or "").name  # also strips "C:\\Users\\..." and "../"
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip()
    return base[:200] or default


class Upload:
    """One request body on its way to ``directory``: the file, and the form's other (small) fields."""

    def __init__(self, directory: Path, content_type: str | None, limit: int, filename: str | None = None) -> None:
        self.limit = limit
        self.path = directory / f"upload-{secrets.token_hex(8)}"
        self.filename = clean_filename(filename)
        self.fields: dict[str, str] = {}
        self.size = 0
        self.error: UploadError | None = None
        self._out: BinaryIO | None = self.path.open("wb")
        self._multipart: _Multipart | None = None
        kind, params = _header_params("content-type", content_type or "application/octet-stream")
        if kind == "multipart/form-data":
            if not params.get("boundary"):
                self.refuse(UploadError(400, "multipart/form-data without a boundary"))
                return
            self._multipart = _Multipart(params["boundary"].encode("latin-1"), self)
        elif kind == "application/x-www-form-urlencoded":
            self.refuse(UploadError(415, "send the file as multipart/form-data, or as the request's raw body"))

    def feed(self, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            if self._multipart is not None:
                self._multipart.feed(data)
            else:
                self.write(data)
        except UploadError as exc:
            self.refuse(exc)

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise UploadError(413, f"the file is larger than the limit of {_size(self.limit)}")
        if self._out is not None and data:
            self._out.write(data)

    def end(self) -> Path:
        """The file, once the whole body is in; UploadError (the file removed) for a bad upload."""
        if self.error is None and self._multipart is not None and not self._multipart.complete:
            self.refuse(UploadError(400, "the multipart body ends early"))
        if self.error is None and self._multipart is not None and not self._multipart.had_file:
            self.refuse(UploadError(400, f"the form has no {FILE_FIELD!r} field with a file"))
        if self.error is None and self.size == 0:
            self.refuse(UploadError(400, "the file is empty"))
        if self.error is not None:
            raise self.error
        self._close()
        return self.path

    def discard(self) -> None:
        self._close()
        self.path.unlink(missing_ok=True)

    def refuse(self, error: UploadError) -> None:
        """The upload is refused: its file goes, what still arrives is dropped, end() raises ``error``."""
        self.error = error
        self.discard()

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


class _Multipart:
    """multipart/form-data parsed as it streams, by python-multipart's parser: the "file" part is
    written to the upload, other fields are kept (small), further file parts are skipped."""

    def __init__(self, boundary: bytes, upload: Upload) -> None:
        self.upload = upload
        self.part: str | None = None  # "file", "field:<name>" or None (skipped)
        self.value = b""
        self.fields_size = 0
        self.had_file = False
        self.complete = False
        self._header = [b"", b""]
        self._headers: dict[str, str] = {}
        self._parser = MultipartParser(boundary, callbacks={
            "on_part_begin": self._headers.clear,
            "on_header_field": lambda data, start, end: self._add_header(0, data[start:end]),
            "on_header_value": lambda data, start, end: self._add_header(1, data[start:end]),
            "on_header_end": self._end_header,
            "on_headers_finished": self._start_part,
            "on_part_data": lambda data, start, end: self._data(data[start:end]),
            "on_part_end": self._end_part,
            "on_end": self._end,
        })

    def feed(self, data: bytes) -> None:
        try:
            self._parser.write(data)
        except MultipartParseError as exc:
            raise UploadError(400, f"a malformed multipart body ({exc})") from None

    def _add_header(self, which: int, data: bytes) -> None:
        self._header[which] += data
        if len(self._header[0]) + len(self._header[1]) > MAX_PART_HEADERS:
            raise UploadError(400, "a multipart part's headers are too long")

    def _end_header(self) -> None:
        name, value = (part.decode("utf-8", "replace") for part in self._header)
        self._headers[name.strip().lower()] = value.strip()
        self._header = [b"", b""]

    def _start_part(self) -> None:
        _, params = _header_params("content-disposition", self._headers.get("content-disposition", ""))
        name = params.get("name", "")
        if "filename" in params:
            self.part = FILE_FIELD if name == FILE_FIELD and not self.had_file else None
            if self.part == FILE_FIELD:
                self.had_file = True
                self.upload.filename = clean_filename(params["filename"], self.upload.filename)
        else:
            self.part = f"field:{name}"
        self.value = b""

    def _data(self, data: bytes) -> None:
        if self.part == FILE_FIELD:
            self.upload.write(data)
        elif self.part is not None:
            self.fields_size += len(data)
            if self.fields_size > MAX_FIELDS:
                raise UploadError(413, "the form's fields are too large")
            self.value += data

    def _end_part(self) -> None:
        if self.part is not None and self.part.startswith("field:"):
            self.upload.fields[self.part[len("field:"):]] = self.value.decode("utf-8", "replace")
        self.part = None

    def _end(self) -> None:
        self.complete = True


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MB" if n >= 1 << 20 else f"{n / 1024:g} KB" if n >= 1024 else f"{n} bytes"


def _header_params(name: str, value: str) -> tuple[str, dict[str, str]]:
    """("multipart/form-data", {"boundary": ...}) from a Content-Type or Content-Disposition value."""
    message = email.message.Message()
    message[name] = value
    params = message.get_params(header=name) or []
    out = {}
    for key, raw in params[1:]:
        out[key.lower()] = email.utils.collapse_rfc2231_value(raw)
    return (params[0][0].lower() if params else ""), out


class StreamedUpload:
    """Mixin for a tornado.web.stream_request_body handler: ``begin_upload`` from prepare() once the
    caller may upload; the body then streams into ``self.upload``. Whatever is not handed on (the
    handler sets ``self.upload = None`` once it owns the file) is removed when the request ends.

    A page's form (``xsrf_in_form``) sends its _xsrf field in the body with the file: without an
    X-XSRFToken header (or ?_xsrf=) the check then waits for the body, and post() calls
    ``check_xsrf_of_upload`` before it acts on it. An API upload has no form: the header is checked
    at once, as for any other request."""

    upload: Upload | None = None
    request: Any
    xsrf_in_form = False
    _xsrf_later = False

    def check_xsrf_cookie(self) -> None:
        headers, asked = self.request.headers, self.request.query_arguments
        if not self.xsrf_in_form or headers.get("X-Xsrftoken") or headers.get("X-Csrftoken") or asked.get("_xsrf"):
            super().check_xsrf_cookie()  # type: ignore[misc]
        else:
            self._xsrf_later = True

    def check_xsrf_of_upload(self) -> None:
        """The body's _xsrf field checked, where the header did not carry it (once the upload is in)."""
        if self._xsrf_later and self.upload is not None:
            self.request.arguments["_xsrf"] = [self.upload.fields.get("_xsrf", "").encode()]
            super().check_xsrf_cookie()  # type: ignore[misc]

    def begin_upload(self, directory: Path, limit: int, filename: str | None = None) -> None:
        """A body over the limit is refused with a 413 that end() raises once the body is in, read and
        dropped: answered earlier, the connection is closed while the client still sends, and the
        client (a browser above all) sees a reset instead of the answer. Raises UploadError(413) at
        once only when the client waits for leave to send (Expect: 100-continue) or announces more
        than DRAIN past the limit (then the connection is closed after the answer)."""
        length = self.request.headers.get("Content-Length")
        announced = int(length) if length is not None and length.isdigit() else None
        too_big = UploadError(413, f"the file is larger than the limit of {_size(limit)}")
        if announced is not None and announced > limit + SLACK and (
                announced > limit + SLACK + DRAIN or self.request.headers.get("Expect", "").lower() == "100-continue"):
            raise too_big
        self.upload = Upload(directory, self.request.headers.get("Content-Type"), limit, filename)
        if announced is not None and announced > limit + SLACK:
            self.upload.refuse(too_big)
            self.request.connection.set_max_body_size(announced)
        else:  # a chunked body is cut at the limit by Upload.write, then drained
            self.request.connection.set_max_body_size(limit + SLACK + DRAIN)

    def data_received(self, chunk: bytes) -> None:
        if self.upload is not None:
            self.upload.feed(chunk)

    def on_connection_close(self) -> None:
        self._drop_upload()
        super().on_connection_close()  # type: ignore[misc]  # the handler's: fails the body's future

    def on_finish(self) -> None:
        self._drop_upload()
        super().on_finish()  # type: ignore[misc]

    def _drop_upload(self) -> None:
        if self.upload is not None:
            self.upload.discard()
            self.upload = None
