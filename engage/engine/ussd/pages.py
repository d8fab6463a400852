"""A screen's text cut into pages a phone can show. A USSD message is at most 160 octets: 182
GSM-7 septets (the extension characters € [ ] { } ^ ~ \\ | take two each), or 80 UCS-2 characters
for a text with any character outside GSM-7 (Cyrillic, most accents), whatever the gateway's own
limit; a gateway may ask for less (``max_chars``, 80 for those that always send UCS-2). A page that
is not the last ends with "98 More", one that is not the first with "0 Back". Lines stay whole (an
option is never cut in two); a line longer than a page is cut between words."""

from __future__ import annotations

from collections.abc import Callable

from engage.engine.sms_encoding import is_gsm7, septets_of, ucs2_units_of

USSD_MAX = 182
UCS2_MAX = 80
MIN_PAGE = 40  # below this nothing useful fits beside the More and Back lines

Measure = Callable[[str], int]


def measure_for(text: str, max_chars: int) -> tuple[int, Measure]:
    """(the page limit, how a piece of text counts against it) for a screen of this text."""
    if is_gsm7(text):
        return max(max_chars, MIN_PAGE), septets_of
    return max(min(max_chars, UCS2_MAX), MIN_PAGE), ucs2_units_of


def paginate(body: str, max_chars: int, more: str = "98 More", back: str = "0 Back") -> list[str]:
    """The pages of `body`, each within the limit of its alphabet (above) with its navigation lines."""
    limit, size = measure_for(body + more + back, max_chars)
    if size(body) <= limit:
        return [body]
    lines = _lines(body, limit - size(more) - size(back) - 2, size)
    pages: list[str] = []
    while lines:
        first = not pages
        tail = [] if first else [back]
        if _size(lines + tail, size) <= limit:  # the rest fits: the last page
            pages.append("\n".join(lines + tail))
            break
        tail = [more] + tail
        room = limit - _size(tail, size) - 1
        taken: list[str] = []
        while lines and _size(taken + [lines[0]], size) <= room:
            taken.append(lines.pop(0))
        if not taken:  # cannot happen: _lines made every line fit beside both navigation lines
            line = lines.pop(0)
            taken.append(line[:_cut(line, room, size)])
        pages.append("\n".join(taken + tail))
    return pages


def fits(line: str, max_chars: int, more: str = "98 More", back: str = "0 Back") -> bool:
    """Whether a line fits on a page beside both navigation lines (what an option must do)."""
    limit, size = measure_for(line + more + back, max_chars)
    return size(line) <= limit - size(more) - size(back) - 2


def _size(lines: list[str], size: Measure) -> int:
    return sum(map(size, lines)) + max(len(lines) - 1, 0)


def _cut(line: str, width: int, size: Measure) -> int:
    """The longest prefix of `line` (its length in characters) that measures at most `width`."""
    total = 0
    for i, ch in enumerate(line):
        total += size(ch)
        if total > width:
            return i
    return len(line)


def _lines(body: str, width: int, size: Measure) -> list[str]:
    """The body's lines, each measuring at most `width`: long ones cut at spaces, or hard."""
    out: list[str] = []
    for line in body.split("\n"):
        while size(line) > width:
            end = _cut(line, width, size)
            cut = line.rfind(" ", 0, end + 1)
            if cut <= 0:
                cut = max(end, 1)
            out.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        out.append(line)
    return out
