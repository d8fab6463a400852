"""What the loyalty back office's forms share: the programme a path names (404 when there is none),
who may change a programme (admin and marketer of no branch: a programme serves the whole operator),
and mistakes shown beside the field they name, with what was typed kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import tornado.web
from sqlalchemy import Connection
from tornado.escape import xhtml_escape

from engage.engine.loyalty import programmes
from engage.engine.users.roles import LOYALTY_EDITORS
from engage.engine.users.zones import wall_instant
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler

BRANCH_REFUSAL = "a programme is the whole operator's: only a user of no branch changes it"


class FieldErrors(dict[str, str]):
    """{field: why}; a template marks a field with `invalid(name)` and shows why beside it with `beside(name)`."""

    def invalid(self, name: str) -> str:
        return f' aria-invalid="true" aria-describedby="error-{name}"' if name in self else ""

    def beside(self, name: str) -> str:
        if name not in self:
            return ""
        return f'<span class="field-error error" id="error-{name}">{xhtml_escape(self[name])}</span>'


def may_edit(handler: PageHandler) -> bool:
    user = handler.current_user
    return user is not None and user.role in LOYALTY_EDITORS and user.branch is None


def refuse_a_branch(handler: PageHandler) -> None:
    """A user of a branch reads a programme but changes nothing of it."""
    if handler.current_user.branch is not None:
        raise tornado.web.HTTPError(403, reason=BRANCH_REFUSAL)


def programme_in(conn: Connection, code: str) -> programmes.Programme:
    """The programme a page's path names, or the page is not found (404)."""
    try:
        return programmes.get(conn, code)
    except LookupError:
        raise tornado.web.HTTPError(404) from None


async def programme_of(handler: PageHandler, code: str) -> programmes.Programme:
    def read() -> programmes.Programme:
        with handler.db.connect() as conn:
            return programme_in(conn, code)
    return await off_loop(read)


def whole(text: str, field: str, wrong: FieldErrors, *, blank: Any = None) -> Any:
    """A whole number typed in a form; `blank` for an empty field; None (and the mistake noted) otherwise."""
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return blank
    try:
        return int(text)
    except ValueError:
        wrong[field] = f"{text[:20]!r} is not a whole number"
        return None


def wall_time(text: str, field: str, zone: str, wrong: FieldErrors) -> str | None:
    """A date and time typed in the reader's zone, as ISO text with its offset (None for an empty field)."""
    if not text.strip():
        return None
    try:
        return wall_instant(text, zone).isoformat()
    except ValueError:
        wrong[field] = f"{text.strip()[:30]!r} is not a date and time such as 2027-12-31T23:59"
        return None


def wall_text(moment: datetime | None, zone: str) -> str:
    """A moment as a datetime-local field shows it, in the reader's zone."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")
