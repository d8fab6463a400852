"""/account: the signed-in person's own settings. For now the time zone every page shows times in,
since a time read in the wrong zone is a campaign sent hours off; the browser's own zone is offered
as a suggestion. Any role with pages may set their own; admins set anyone's on /users."""

from __future__ import annotations

from datetime import UTC, datetime

from engage.engine.users import UserError, zones
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires


class AccountPage(PageHandler):
    @requires()
    def get(self) -> None:
        self._show(saved=bool(self.get_query_argument("saved", "")))

    @requires()
    async def post(self) -> None:
        me = self.current_user
        asked = self.get_body_argument("timezone", "").strip()[:100]

        def save() -> None:
            with self.db.begin() as conn:
                zones.set_timezone(conn, me.email, asked or None, actor=me.email)
        try:
            await off_loop(save)
        except UserError as exc:
            self.set_status(400)
            self._show(error=str(exc))
            return
        self.redirect("/account?saved=1", status=303)

    def _show(self, *, saved: bool = False, error: str | None = None) -> None:
        me = self.current_user
        now = datetime.now(UTC)
        self.render("account.html", me=me, saved=saved, error=error, now=now,
                    zone_groups=zones.zone_choices(me.timezone, now=now))


ACCOUNT_ROUTES = [(r"/account", AccountPage)]
