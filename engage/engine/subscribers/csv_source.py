"""Rows of a CSV file with their line numbers, as lists of cells: csv.reader, not DictReader,
because building a dict per row is wasted work when the layout is known from the header.

What the file is made of is settled before its first row: a byte order mark says UTF-8 or UTF-16;
else the encoding given (--encoding cp1251, latin-1...), else UTF-8; a file that is binary (an
Excel workbook, a photo, UTF-16 without its mark) is refused whole. A byte the encoding cannot
decode does not stop the file: it reaches the row as a lone surrogate (U+DC00 + the byte), and
that row alone is rejected, naming the byte (rows.text_problem). Per row and not per file because
UTF-8 finds its footing again at the next character, so one Latin-1 byte in a million rows costs
one row, reported; a file mostly in another encoding has every such row rejected with the advice
to give --encoding, which is as loud as refusing it and loses nothing.

No value of these files spans lines, so a record that does (a quote left open, which the csv
module would let run on through the following rows) is rejected with its first line, and the
lines it took are read again as rows of their own. So is a line the csv module gives up on (a
field over its 128 KB limit)."""

from __future__ import annotations

import codecs
import csv
import io
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from engage.engine.subscribers.rows import RowError

UNDECODABLE = "engage.undecodable"
SAMPLE_BYTES = 1 << 16
BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "UTF-8"), (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
        (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"))
SIGNATURES = ((b"PK\x03\x04", "an Excel workbook or another ZIP archive; save it as CSV UTF-8"),
              (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook; save it as CSV UTF-8"),
              (b"\x1f\x8b", "a gzip archive; unpack it first"), (b"%PDF", "a PDF document"),
              (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"))
CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\x0c")


def _undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Each byte that cannot be decoded becomes U+DC00 + the byte (surrogateescape does so only for
    bytes from 0x80, and so fails on UTF-16's), for the row's check to name it."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(0xDC00 + b) for b in exc.object[exc.start:exc.end]), exc.end


codecs.register_error(UNDECODABLE, _undecodable)


class CsvSource:
    """Opened on `with`; `header` is the first row, records() yields (file line, cells); lines
    rejected before they become rows are in `rejected` as (line, reason). `encoding` names the
    file's encoding for messages."""

    label = "line"

    def __init__(self, path: Path, encoding: str | None = None) -> None:
        self.path = path
        self.header: list[str] = []
        self.rejected: list[tuple[int, str]] = []
        self.encoding = "UTF-8"
        self._declared = encoding
        self._again: deque[str] = deque()  # lines a rejected record took, to be read again
        self._held: list[str] = []  # the lines of the record being read
        self._line = 0  # the last line read into a record

    def __enter__(self) -> CsvSource:
        raw = self.path.open("rb")
        try:
            codec = self._codec(raw.read(SAMPLE_BYTES))
            raw.seek(0)
            self._fh = io.TextIOWrapper(raw, encoding=codec, errors=UNDECODABLE, newline="")
        except BaseException:
            raw.close()
            raise
        self._reader = csv.reader(self._lines())
        try:
            header = next(self._records(), None)
            if not header:
                raise RowError(f"{self.path}: no header row")
        except BaseException:
            self._fh.close()
            raise
        self.header = header[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def records(self) -> Iterator[tuple[int, list[str]]]:
        return self._records()

    def _codec(self, sample: bytes) -> str:
        """The codec to read the file with, from its byte order mark, the encoding given, or UTF-8;
        RowError for a file that is no text."""
        for bom, codec, name in BOMS:
            if sample.startswith(bom):
                self.encoding = name
                return codec
        for signature, what in SIGNATURES:
            if sample.startswith(signature):
                raise RowError(f"{self.path}: not a CSV file (it looks like {what})")
        if self._declared:
            try:
                codecs.lookup(self._declared)
            except LookupError:
                raise RowError(f"--encoding: unknown encoding {self._declared!r} (e.g. utf-8, cp1251, latin-1, "
                               "utf-16-le)") from None
            self.encoding = "UTF-8" if codecs.lookup(self._declared).name == "utf-8" else self._declared
            return self._declared
        first_line = sample.split(b"\n", 1)[0]
        controls = len(sample) - len(sample.translate(None, CONTROL_BYTES))
        if first_line.translate(None, CONTROL_BYTES) != first_line or controls > max(8, len(sample) // 100):
            halves = (sample[0::2].count(0), sample[1::2].count(0))
            if max(halves) > len(sample) // 4 and min(halves) < len(sample) // 50:
                order = "le" if halves[1] > halves[0] else "be"
                raise RowError(f"{self.path}: UTF-16 text without a byte order mark; import it again naming its "
                               f"encoding, utf-16-{order}")
            raise RowError(f"{self.path}: not a CSV file (binary data, e.g. byte "
                           f"0x{next(b for b in sample if b in CONTROL_BYTES):02X}); save it as CSV text (UTF-8)")
        return "utf-8"

    def _lines(self) -> Iterator[str]:
        """The file's lines, for csv.reader, after any it must read again; each is held until the
        record it belongs to is done."""
        again, hold = self._again, self._held.append
        for line in self._fh:
            while again:  # pushed back while this generator waited: they come before `line`
                earlier = again.popleft()
                hold(earlier)
                yield earlier
            hold(line)
            yield line
        while again:
            earlier = again.popleft()
            hold(earlier)
            yield earlier

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        reader, held = self._reader, self._held
        while True:
            held.clear()
            try:
                cells = next(reader)
            except StopIteration:
                if not self._again:
                    return
                # the last record ran on to the end of the file: its lines are read again
                reader = self._reader = csv.reader(self._lines())
                continue
            except csv.Error as exc:
                if "field larger than field limit" not in str(exc):
                    self._reject_record(f"not CSV: {exc}")
                elif len(held) > 1:
                    self._reject_record(f"a quote left open: its value ran on past {csv.field_size_limit():,} "
                                        "characters")
                else:
                    self._reject_record(f"a value longer than {csv.field_size_limit():,} characters")
                continue
            start = self._line + 1
            if len(held) > 1:
                at = next((i for i, cell in enumerate(cells) if "\n" in cell or "\r" in cell), 0)
                name = self.header[at] if at < len(self.header) and self.header[at] else f"field {at + 1}"
                self._reject_record(f"{name}: a line break inside quotes (a quote left open?)")
                continue
            self._line = start
            if cells:  # a blank line is no row
                yield start, cells

    def _reject_record(self, reason: str) -> None:
        """The record just read is rejected at its first line; the lines after it, which it took
        (an open quote) or which the csv module gave up on, are read again."""
        start = self._line + 1
        if not self.header:
            raise RowError(f"{self.path}: line {start} (the header): {reason}")
        taken = len(self._held) - 1
        if taken:
            reason += (f"; the {taken} lines after it are read as rows of their own" if taken > 1
                       else "; the line after it is read as a row of its own")
        self.rejected.append((start, reason))
        self._again.extendleft(reversed(self._held[1:]))
        self._line = start


def count_rows(path: Path) -> int:
    """Lines after the header (quoted line breaks overcount; it only sizes a progress bar)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines + (last != b"\n") - 1, 0)
