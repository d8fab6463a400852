"""Admin pages: the users (create, disable, enable, unlock, give and withdraw grants beyond their
role, set the time zone their pages show times in; never a password shown), their API tokens
(issued, with the secret shown once on the page that answers the form, and revoked), and the audit
log (who did what, when, to which object; filterable). Admins only; everything they change is
audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import tornado.httputil

from engage.engine import audit_log
from engage.engine.users import (
    UserError,
    api_tokens,
    create_user,
    disable,
    enable,
    get_user,
    grants,
    list_users,
    unlock,
    zones,
)
from engage.engine.users.ldap_signin import directory_user_ids
from engage.engine.users.roles import ROLES
from engage.web.sessions_web import PageHandler, requires

DONE = {"create": "created", "disable": "disabled", "enable": "enabled", "unlock": "unlocked"}


class UsersPage(PageHandler):
    @requires("admin")
    def get(self) -> None:
        self._show(error=self.get_query_argument("error", None), notice=self.get_query_argument("done", None))

    def _show(self, *, error: str | None = None, notice: str | None = None,
              issued: dict[str, Any] | None = None) -> None:
        with self.db.connect() as conn:
            users = list_users(conn)
            tokens = api_tokens.list_all(conn)
            directory = directory_user_ids(conn)
        self.render("users.html", users=users, roles=ROLES, error=error, notice=notice, tokens=tokens,
                    directory=directory, issued=issued, zone_groups=zones.zone_choices(now=datetime.now(UTC)),
                    grants=grants.GRANTS, grantable=grants.grantable)

    @requires("admin")
    def post(self) -> None:
        action, email = self.get_body_argument("action", "create"), self.get_body_argument("email", "").strip()
        if action == "token_create":
            self._create_token(email)
            return
        actor = self.current_user.email
        try:
            with self.db.begin() as conn:
                if action == "create":
                    create_user(conn, email, self.get_body_argument("role", ""),
                                password=self.get_body_argument("password", ""),
                                branch=self.get_body_argument("branch", "").strip() or None,
                                name=self.get_body_argument("name", "").strip() or None, actor=actor)
                    done = f"{email} created"
                elif action in ("disable", "enable", "unlock"):
                    {"disable": disable, "enable": enable, "unlock": unlock}[action](conn, email, actor=actor)
                    done = f"{email} {DONE[action]}"
                elif action == "timezone":
                    changed = zones.set_timezone(conn, email, self.get_body_argument("timezone", "").strip()[:100]
                                                 or None, actor=actor)
                    done = f"{changed.email}'s times are shown in " + (
                        changed.timezone or f"the installation's zone ({zones.zone_for(changed)})")
                elif action == "grants":
                    changed, moved = grants.set_grants(conn, email, self.get_body_arguments("grant"), actor=actor)
                    done = (f"{changed.email} holds " + (", ".join(sorted(changed.grants)) or "no grants")
                            + ("" if moved else " as before"))
                elif action == "token_revoke":
                    revoked = api_tokens.revoke(conn, _whole(self.get_body_argument("token_id", ""), "token"),
                                                actor=actor)
                    done = f"API token {revoked.name} ({revoked.prefix}…) revoked"
                else:
                    raise UserError("action", f"unknown action {action!r}")
        except UserError as exc:
            self.redirect("/users?" + tornado.httputil.urlencode({"error": str(exc)}))
            return
        self.redirect("/users?" + tornado.httputil.urlencode({"done": done}))

    def _create_token(self, email: str) -> None:
        """Answered with the page itself, not a redirect: the secret must not travel in a URL (history,
        proxies' logs), and this answer is the only place it is ever shown (no-store)."""
        name = self.get_body_argument("token_name", "")
        days = self.get_body_argument("expires_days", "").strip()
        try:
            expires_days = _whole(days, "expires_days") if days else None
            with self.db.begin() as conn:
                user = get_user(conn, email) if email else None
                if user is None:
                    raise UserError("user", f"no user with the email {email!r}")
                secret = api_tokens.issue(conn, user.id, name, expires_days=expires_days,
                                          created_by=self.current_user.email)
                token = api_tokens.find(conn, secret)
        except UserError as exc:
            self.redirect("/users?" + tornado.httputil.urlencode({"error": str(exc)}))
            return
        self._show(notice=f"API token {token.name} created for {user.email}",
                   issued={"secret": secret, "email": user.email, "token": token})


def _whole(raw: str, field: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise UserError(field, f"{raw[:20]!r} is not a whole number") from None


class AuditPage(PageHandler):
    @requires("admin")
    def get(self) -> None:
        filters = {k: self.get_query_argument(k, "").strip() for k in ("actor", "action", "object_type",
                                                                          "object_id", "since", "until")}
        try:
            moments = _days(filters["since"], filters["until"], self.user_zone())
        except ValueError:
            moments, filters["error"] = {"since": None, "until": None}, "since/until: a date like 2026-11-30"
        with self.db.connect() as conn:
            rows = audit_log.entries(conn, actor=filters["actor"] or None, action=filters["action"] or None,
                                     object_type=filters["object_type"] or None,
                                     object_id=filters["object_id"] or None, **moments)
        self.render("audit.html", rows=rows, f=filters)


def _days(since: str, until: str, zone: str) -> dict[str, datetime | None]:
    """The audit filter's days as the reader means them: in their own zone, and "until" a date
    including that whole day (ValueError for a text that is not a date)."""
    def start(text: str) -> datetime | None:
        return zones.wall_instant(text, zone) if text else None

    end = start(until)
    if end is not None and len(until) == len("2026-11-30"):
        end = start((date.fromisoformat(until) + timedelta(days=1)).isoformat())
    return {"since": start(since), "until": end}


ADMIN_ROUTES = [(r"/users", UsersPage), (r"/audit", AuditPage)]
