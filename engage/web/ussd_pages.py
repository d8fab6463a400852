"""The USSD pages: the menus on service codes (/menus), a menu's editor with its tree and drop-off
funnel (/menus/new, /menus/<id>), and a phone emulator (/menus/phone) that dials a code and walks
the menu through the same engine a gateway uses, by POST /api/v1/ussd/try.

Menus answer on the whole operator's codes, like keywords: support and analysts read them (support
to answer subscribers, analysts for the funnel); admin and marketer of no branch change them and
use the emulator, whose actions act for real on the dialled number's subscriber. Saving goes
through the engine's validation: every error is listed with its line and screen, what was typed is
kept, and the answer is a 400. The /ussd/ prefix is the gateways' (engage.web.ussd_gateway)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import tornado.web

from engage.engine.users.roles import USSD_EDITORS, USSD_READERS
from engage.engine.ussd import emulator, menus, tree
from engage.engine.ussd.dialog import UssdError
from engage.engine.ussd.editing import save_menu
from engage.engine.ussd.funnel import funnel
from engage.engine.ussd.menus import MenuInvalid
from engage.engine.ussd.source import MAX_DOCUMENT
from engage.web.audience_api import ApiBase, ApiError
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

FUNNEL_DAYS = 30  # the funnel's default window: the sessions of the last month
MAX_FUNNEL_DAYS = 366


def _may_edit(handler: PageHandler) -> bool:
    user = handler.current_user
    return user.role in USSD_EDITORS and user.branch is None


def _operator_wide(handler: PageHandler) -> None:
    """Menus answer on every branch's subscribers: a user of one branch reads them, one of no branch
    changes them and walks them as any number (as with keywords)."""
    if handler.current_user.branch is not None:
        raise tornado.web.HTTPError(403, reason="USSD menus are the whole operator's: a user of no branch "
                                                "changes them and tries them")


class MenusPage(PageHandler):
    @requires(*USSD_READERS)
    async def get(self) -> None:
        def read() -> list[dict[str, Any]]:
            with self.db.connect() as conn:
                return menus.listed(conn)
        self.render("ussd_menus.html", menus=await off_loop(read), can_edit=_may_edit(self))


class MenuPage(PageHandler):
    """The editor: the document, its tree and its funnel (GET); a save (POST)."""

    @requires(*USSD_READERS)
    async def get(self, menu_id: str | None = None) -> None:
        days = self.get_query_argument("days", "")
        days_shown = int(days) if days.isdigit() and 1 <= int(days) <= MAX_FUNNEL_DAYS else FUNNEL_DAYS

        def read() -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
            with self.db.connect() as conn:
                menu = menus.get(conn, int(menu_id)) if menu_id else None
                since = datetime.now(UTC) - timedelta(days=days_shown)
                return menu, funnel(conn, menu["id"], since=since) if menu else None
        menu, drop_off = await off_loop(read)
        if menu_id and menu is None:
            raise tornado.web.HTTPError(404)
        shown = menu or {"id": None, "name": "", "code": "", "document": "", "compiled": None}
        self._show(shown, [], drop_off=drop_off, days=days_shown, saved=bool(self.get_query_argument("saved", "")),
                   switched=self.get_query_argument("switched", "") if menu else "")

    @requires(*USSD_EDITORS)
    async def post(self, menu_id: str | None = None) -> None:
        _operator_wide(self)
        source = self.get_body_argument("document", "", strip=False)
        code = self.get_body_argument("code", "").strip()
        if len(source) > MAX_DOCUMENT:  # kept as typed below would mean echoing megabytes: refused as it is
            raise tornado.web.HTTPError(400, reason=f"the document is over {MAX_DOCUMENT:,} characters")

        def save() -> int:
            with self.db.begin() as conn:
                return save_menu(conn, source.replace("\r\n", "\n"), code=code, name=None,
                                 actor=self.current_user.email, menu_id=int(menu_id) if menu_id else None)
        try:
            saved = await off_loop(save)
        except LookupError:
            raise tornado.web.HTTPError(404) from None
        except MenuInvalid as exc:
            def read() -> dict[str, Any] | None:
                with self.db.connect() as conn:
                    return menus.get(conn, int(menu_id)) if menu_id else None
            before = await off_loop(read) or {"id": None, "name": "", "compiled": None}
            self.set_status(400)
            self._show({**before, "code": code, "document": source}, exc.errors)
            return
        self.redirect(f"/menus/{saved}?saved=1", status=303)

    def _show(self, menu: dict[str, Any], errors: list[Any], *, drop_off: dict[str, Any] | None = None,
              days: int = FUNNEL_DAYS, saved: bool = False, switched: str = "") -> None:
        """The editor; the tree is of the menu as saved (the compiled form), not of a refused text."""
        compiled = menu.get("compiled")
        self.render("ussd_menu_edit.html", menu=menu, errors=errors, saved=saved, switched=switched,
                    can_edit=_may_edit(self),
                    outline=tree.outline(compiled) if compiled else [], drop_off=drop_off, days=days)


class MenuSwitch(PageHandler):
    """Switch a menu off (its code answers "unavailable", open sessions end at their next hop) or on."""

    @requires(*USSD_EDITORS)
    async def post(self, menu_id: str) -> None:
        _operator_wide(self)
        on = self.get_body_argument("active", "") == "1"

        def switch() -> None:
            with self.db.begin() as conn:
                menus.switch(conn, int(menu_id), on, actor=self.current_user.email)
        try:
            await off_loop(switch)
        except LookupError:
            raise tornado.web.HTTPError(404) from None
        except MenuInvalid as exc:
            raise tornado.web.HTTPError(409, reason=exc.errors[0].message) from None
        self.redirect(f"/menus/{menu_id}?switched={'on' if on else 'off'}", status=303)


class PhonePage(PageHandler):
    @requires(*USSD_EDITORS)
    async def get(self) -> None:
        _operator_wide(self)

        def read() -> list[dict[str, Any]]:
            with self.db.connect() as conn:
                return [m for m in menus.listed(conn) if m["active"]]
        active = await off_loop(read)
        code = self.get_query_argument("code", "").strip()[:32] or (active[0]["code"] if active else "")
        self.render("ussd_phone.html", code=code, msisdn=emulator.DEFAULT_MSISDN, menus=active)


class UssdTryApi(ApiBase):
    """One hop of the emulator: {code, msisdn, session, answer} -> {session, text, ends}. No session:
    a dial; a session and an answer: the next screen; a session and hang_up: the session ends."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {"POST": USSD_EDITORS}

    async def post(self) -> None:
        if self.scope.branch is not None:
            raise ApiError(403, "USSD menus are the whole operator's: a user of no branch tries them")
        data = self.body()
        code, msisdn = _text(data, "code", required=True), _text(data, "msisdn", required=True)
        session, answer = _text(data, "session"), _text(data, "answer")
        hang_up = data.get("hang_up", False)
        if not isinstance(hang_up, bool):
            raise ApiError(400, "hang_up: true or false")
        caller = self.actor()
        try:
            if session is None:
                if answer is not None or hang_up:
                    raise ApiError(400, "session: missing; dial first (a hop with no session and no answer)")
                shown = await off_loop(emulator.dial, self.db, caller=caller, code=code, msisdn=msisdn)
            elif hang_up:
                await off_loop(emulator.hang_up, self.db, caller=caller, session=session)
                shown = emulator.Shown(None, "", True)
            elif answer is None:
                raise ApiError(400, "answer: missing (what the phone sends on this screen; \"\" for nothing)")
            else:
                shown = await off_loop(emulator.answer, self.db, caller=caller, session=session, code=code,
                                       msisdn=msisdn, text=answer)
        except UssdError as exc:
            raise ApiError(400, str(exc)) from None
        self.write({"session": shown.session, "text": shown.text, "ends": shown.ends})


def _text(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ApiError(400, f"{name}: missing")
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{name}: a text, not {type(value).__name__}")
    return value


# path -> method -> (summary, takes a JSON body), for engage.web.openapi
OPERATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "/api/v1/ussd/try": {"post": ("One hop of the phone emulator through the USSD engine: {code, msisdn} dials "
                                  "(a new session), {session, answer} answers, {session, hang_up: true} ends; "
                                  "answers {session (null once over), text, ends}. Admin and marketer of no branch; "
                                  "actions act for real on the number's subscriber", True)},
}

USSD_PAGE_ROUTES = [(r"/menus", MenusPage), (r"/menus/new", MenuPage), (r"/menus/phone", PhonePage),
                    (r"/menus/(\d+)", MenuPage), (r"/menus/(\d+)/switch", MenuSwitch),
                    (r"/api/v1/ussd/try", UssdTryApi)]
