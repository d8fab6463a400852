"""Admin pages: the users (create, disable, enable, unlock; never a password shown) and the audit log
(who did what, when, to which object; filterable). Admins only; everything they change is audited."""

from __future__ import annotations

from datetime import datetime

import tornado.httputil

from engage.engine import audit_log
from engage.engine.users import UserError, create_user, disable, enable, list_users, unlock
from engage.engine.users.roles import ROLES
from engage.web.sessions_web import PageHandler, requires


class UsersPage(PageHandler):
    @requires("admin")
    def get(self) -> None:
        with self.db.connect() as conn:
            users = list_users(conn)
        self.render("users.html", users=users, roles=ROLES, error=self.get_query_argument("error", None),
                    notice=self.get_query_argument("done", None))

    @requires("admin")
    def post(self) -> None:
        action, email = self.get_body_argument("action", "create"), self.get_body_argument("email", "").strip()
        actor = self.current_user.email
        try:
            with self.db.begin() as conn:
                if action == "create":
                    create_user(conn, email, self.get_body_argument("role", ""),
                                password=self.get_body_argument("password", ""),
                                branch=self.get_body_argument("branch", "").strip() or None,
                                name=self.get_body_argument("name", "").strip() or None, actor=actor)
                elif action in ("disable", "enable", "unlock"):
                    {"disable": disable, "enable": enable, "unlock": unlock}[action](conn, email, actor=actor)
                else:
                    raise UserError("action", f"unknown action {action!r}")
        except UserError as exc:
            self.redirect("/users?" + tornado.httputil.urlencode({"error": str(exc)}))
            return
        done = {"create": "created", "disable": "disabled", "enable": "enabled", "unlock": "unlocked"}[action]
        self.redirect("/users?" + tornado.httputil.urlencode({"done": f"{email} {done}"}))


class AuditPage(PageHandler):
    @requires("admin")
    def get(self) -> None:
        filters = {k: self.get_query_argument(k, "").strip() for k in ("actor", "action", "object_type",
                                                                          "object_id", "since", "until")}
        try:
            moments = {k: datetime.fromisoformat(filters[k]) if filters[k] else None for k in ("since", "until")}
        except ValueError:
            moments, filters["error"] = {"since": None, "until": None}, "since/until: a date like 2026-11-30"
        with self.db.connect() as conn:
            rows = audit_log.entries(conn, actor=filters["actor"] or None, action=filters["action"] or None,
                                     object_type=filters["object_type"] or None,
                                     object_id=filters["object_id"] or None, **moments)
        self.render("audit.html", rows=rows, f=filters)


ADMIN_ROUTES = [(r"/users", UsersPage), (r"/audit", AuditPage)]
