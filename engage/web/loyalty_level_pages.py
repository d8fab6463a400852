"""A programme's levels from the browser: a table with a row per level (its name and the points earned
in the window that reach it, lowest first), a row added on demand, and the window, grace period and
review interval. Checked by levels.parse; a mistake is shown in the row it is in, counted as the reader
sees the rows (blank rows are left out, not counted out). Admin and marketer of no branch change them;
each change is audited with the levels before and after."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from engage.engine.audit import audit
from engage.engine.loyalty import levels, programmes
from engage.engine.users.roles import LOYALTY_EDITORS, LOYALTY_READERS
from engage.web.loyalty_forms import FieldErrors, may_edit, programme_of, refuse_a_branch, whole
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

SPARE_ROWS = 2  # empty rows offered under the levels, for new ones
MAX_ROWS = 50
PERIODS = ("window_days", "grace_days", "review_every_days")
ROW_FIELD = re.compile(r"^levels\[(\d+)\]\.(name|min)$")
EXAMPLE = [("blue", "0"), ("silver", "1000"), ("gold", "5000")]


class LoyaltyLevelsPage(PageHandler):
    @requires(*LOYALTY_READERS)
    async def get(self, code: str) -> None:
        programme = await programme_of(self, code)
        ladder = levels.of(programme.settings)
        rows = [(n, str(m)) for n, m in zip(ladder.names, ladder.minimums, strict=True)] if ladder else [
            ("", "")] * len(EXAMPLE)
        shown = ladder or levels.Levels(("blue",), (0,))
        form = {key: str(getattr(shown, key)) for key in PERIODS}
        self._show(programme, rows + [("", "")] * SPARE_ROWS, form, FieldErrors(),
                   saved=bool(self.get_query_argument("saved", "")), example=ladder is None)

    @requires(*LOYALTY_EDITORS)
    async def post(self, code: str) -> None:
        refuse_a_branch(self)
        programme = await programme_of(self, code)
        names = self.get_body_arguments("level_name")[:MAX_ROWS]
        minimums = self.get_body_arguments("level_min")[:MAX_ROWS]
        rows = [(n.strip()[:40], m.strip()[:20]) for n, m in zip(names, minimums, strict=False)]
        form = {key: self.get_body_argument(key, "").strip()[:10] for key in PERIODS}
        if self.get_body_argument("do", "") == "add":
            self._show(programme, rows + [("", "")], form, FieldErrors())
            return
        wrong = FieldErrors()
        raw = _raw(rows, form, wrong)
        if wrong:
            self._show(programme, rows, form, wrong, status=400)
            return

        def save() -> None:
            with self.db.begin() as conn:
                before = programmes.get(conn, programme.id).settings.get("levels")
                made = levels.set_levels(conn, programme.id, raw)
                audit(conn, self.current_user.email, "loyalty.levels.set", "loyalty_programme", programme.id,
                      code=programme.code, before=before, after=made.as_json())
        try:
            await off_loop(save)
        except levels.LevelsError as exc:
            _place(exc, rows, wrong)
            self._show(programme, rows, form, wrong, status=400)
            return
        self.redirect(f"/loyalty/{programme.code}/levels?saved=1", status=303)

    def _show(self, programme: programmes.Programme, rows: list[tuple[str, str]], form: dict[str, str],
              wrong: FieldErrors, *, saved: bool = False, example: bool = False, status: int = 200) -> None:
        self.set_status(status)
        review = programme.settings.get("next_review")
        self.render("loyalty_levels.html", programme=programme, rows=rows, form=form, wrong=wrong, saved=saved,
                    example=EXAMPLE if example else [], can_edit=may_edit(self),
                    next_review=datetime.fromisoformat(review) if review else None)


def _raw(rows: list[tuple[str, str]], form: dict[str, str], wrong: FieldErrors) -> dict[str, Any]:
    """The levels as levels.parse reads them, from the rows that are not blank; a number that is not
    one is noted against its row."""
    items = []
    for n, (name, minimum) in enumerate(rows, 1):
        if not name and not minimum:
            continue
        points = whole(minimum, f"row{n}-min", wrong, blank="")
        if points == "":
            wrong[f"row{n}-min"] = f"Row {n}: the points that reach {name or 'this level'}"
        items.append({"name": name, "min": points})
    if not items:
        wrong["row1-name"] = "Row 1: a programme with levels has at least one, where every member starts (0 points)"
    raw: dict[str, Any] = {"levels": items}
    for key in PERIODS:
        value = whole(form[key], key, wrong, blank="")
        if value == "":
            wrong[key] = "a whole number of days"
        raw[key] = value
    return raw


def _place(exc: levels.LevelsError, rows: list[tuple[str, str]], wrong: FieldErrors) -> None:
    """The engine's error beside the field it names: levels[i] is the i-th row that is not blank."""
    message = str(exc).split(": ", 1)[-1]
    found = ROW_FIELD.match(exc.field)
    if not found:
        wrong[exc.field if exc.field in PERIODS else "row1-name"] = f"{exc.field}: {message}"
        return
    filled = [n for n, (name, minimum) in enumerate(rows, 1) if name or minimum]
    row = filled[int(found.group(1)) - 1]
    wrong[f"row{row}-{found.group(2)}"] = f"Row {row}: {message}"


LOYALTY_LEVEL_ROUTES = [(r"/loyalty/([a-z0-9_-]+)/levels", LoyaltyLevelsPage)]
