"""A screen's text cut into pages a phone can show: a USSD message is at most 182 characters (80 on
gateways that send UCS-2), and a page that is not the last ends with "98 More", one that is not the
first with "0 Back". Lines stay whole (an option is never cut in two); a line longer than a page is
cut between words."""

from __future__ import annotations

USSD_MAX = 182
UCS2_MAX = 80
MIN_PAGE = 40  # below this nothing useful fits beside the More and Back lines


def paginate(body: str, max_chars: int, more: str = "98 More", back: str = "0 Back") -> list[str]:
    """The pages of `body`, each at most max_chars characters with its navigation lines."""
    max_chars = max(max_chars, MIN_PAGE)
    if len(body) <= max_chars:
        return [body]
    lines = _lines(body, max_chars - len(more) - len(back) - 2)
    pages: list[str] = []
    while lines:
        first = not pages
        tail = [] if first else [back]
        if _size(lines + tail) <= max_chars:  # the rest fits: the last page
            pages.append("\n".join(lines + tail))
            break
        tail = [more] + tail
        room = max_chars - _size(tail) - 1
        taken: list[str] = []
        while lines and _size(taken + [lines[0]]) <= room:
            taken.append(lines.pop(0))
        if not taken:  # cannot happen: _lines made every line fit beside both navigation lines
            taken.append(lines.pop(0)[:room])
        pages.append("\n".join(taken + tail))
    return pages


def fits(line: str, max_chars: int, more: str = "98 More", back: str = "0 Back") -> bool:
    """Whether a line fits on a page beside both navigation lines (what an option must do)."""
    return len(line) <= max(max_chars, MIN_PAGE) - len(more) - len(back) - 2


def _size(lines: list[str]) -> int:
    return sum(map(len, lines)) + max(len(lines) - 1, 0)


def _lines(body: str, width: int) -> list[str]:
    """The body's lines, each at most `width` characters: long ones cut at spaces, or hard."""
    out: list[str] = []
    for line in body.split("\n"):
        while len(line) > width:
            cut = line.rfind(" ", 0, width + 1)
            if cut <= 0:
                cut = width
            out.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        out.append(line)
    return out
