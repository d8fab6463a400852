"""The template editor: variants per language and A/B arm, and as the marketer types, a preview for
a sample subscriber with its encoding, characters and parts, and any mistake at its line and
column. The preview is POST /api/v1/templates/preview (the same check the save does), so the page
and an integration see the same messages. A refused save keeps what was typed and shows the
store's message beside what it names (the name, the default language, a variant); a template no
campaign uses can be deleted (POST with XSRF, confirmed in the browser)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import tornado.httputil
import tornado.web

from engage.engine.templates import limits, store
from engage.engine.templates.render import TemplateError, TemplateLimitError, on_sample
from engage.engine.users.roles import CAMPAIGN_MAKERS, CAMPAIGN_READERS
from engage.web.audience_api import ApiBase
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

MAX_BODY = limits.MAX_BODY  # the engine's limit on a template's text, refused before it is read further
# every variant typed reaches the store, which judges its language and arm (a bad one is shown, not dropped)
_VARIANT = re.compile(r"^body\.([^.]*)\.([^.]*)$")
_WHERE = re.compile(r"^variant '([^']*)'(?: arm '([^']*)')?:")


def error_place(exc: Exception) -> str | None:
    """Where on the editor a refused save's message belongs: "name", "default_language", a variant as
    "variant:<language>:<arm>", or None (above the form). A mistake in a text at a line and column
    is shown by that variant's live preview already."""
    message = str(exc)
    if message.startswith(("a template needs a name", "a template called")):
        return "name"
    if message.startswith("default language"):
        return "default_language"
    found = _WHERE.match(message)
    if found and not (isinstance(exc, TemplateError) and exc.line):
        return f"variant:{found.group(1)}:{found.group(2) or 'A'}"
    return None


def preview_text(body: str, language: str) -> dict[str, Any]:
    """One variant rendered for the sample subscriber: text, encoding, characters, parts; or the error.
    A text over a render limit (templates/limits.py) raises TemplateLimitError: the API's 400."""
    try:
        rendered = on_sample(body, language)
    except TemplateLimitError:
        raise
    except TemplateError as exc:
        return {"error": str(exc), "line": exc.line, "column": exc.column}
    info = rendered.info
    return {"text": rendered.text, "encoding": info.encoding, "characters": len(rendered.text),
            "parts": info.parts, "non_gsm_chars": info.non_gsm_chars}


class TemplatePreviewApi(ApiBase):
    session_roles: ClassVar[dict[str, frozenset[str]]] = {"POST": CAMPAIGN_READERS}

    async def post(self) -> None:
        data = self.body()
        body, language = data.get("body"), data.get("language", "en")
        if not isinstance(body, str) or len(body) > MAX_BODY:
            self.fail(400, f"body: text of at most {MAX_BODY} characters")
            return
        if not isinstance(language, str) or not language:
            self.fail(400, "language: a language code, like en")
            return
        try:
            self.write(await off_loop(preview_text, body, language))
        except TemplateLimitError as exc:
            self.fail(400, str(exc), line=exc.line, column=exc.column)


class TemplatesPage(PageHandler):
    @requires()
    def get(self) -> None:
        with self.db.connect() as conn:
            self.render("templates.html", templates=store.list_all(conn, self.current_user.branch),
                        deleted=self.get_query_argument("deleted", None))


class TemplateEditPage(PageHandler):
    """New (id None) or an existing template: its variants as rows of language, arm and body."""

    @requires()
    async def get(self, template_id: str | None = None) -> None:
        if template_id is None:
            self._form(name="", default_language="en", variants=[{"language": "en", "arm": "A", "body": ""}])
            return
        branch = self.current_user.branch

        def read() -> dict[str, Any]:  # measures its variants: off the IO loop
            with self.db.connect() as conn:
                return store.get(conn, int(template_id), branch)

        try:
            t = await off_loop(read)
        except LookupError:  # none, or another branch's
            self.send_error(404)
            return
        self._form(template_id=t["id"], name=t["name"], default_language=t["default_language"],
                   variants=t["variants"], error=self.get_query_argument("error", None), template=t)

    @requires(*CAMPAIGN_MAKERS)
    async def post(self, template_id: str | None = None) -> None:
        name = self.get_body_argument("name", "").strip()
        default = self.get_body_argument("default_language", "en").strip()
        by_arm: dict[str, dict[str, str]] = {}
        for key in self.request.body_arguments:
            found = _VARIANT.match(key)
            if found and self.get_body_argument(key).strip():
                by_arm.setdefault(found.group(2), {})[found.group(1)] = self.get_body_argument(key)
        variants = by_arm.pop("A", {})
        user = self.current_user

        def save() -> int:  # renders each variant on the sample recipient: off the IO loop
            with self.db.begin() as conn:
                if template_id is None:
                    return store.create(conn, name, variants, default_language=default, actor=user.email,
                                        arms=by_arm or None, branch=user.branch)
                store.update(conn, int(template_id), variants, actor=user.email, default_language=default,
                             arms=by_arm or None, name=name, branch=user.branch)
                return int(template_id)

        try:
            saved = await off_loop(save)
        except LookupError:  # none, or another branch's
            raise tornado.web.HTTPError(404) from None
        except (ValueError, PermissionError) as exc:
            rows = [{"language": lang, "arm": arm, "body": body}
                    for arm, bodies in {"A": variants, **by_arm}.items() for lang, body in bodies.items()]
            self._form(template_id=int(template_id) if template_id else None, name=name, default_language=default,
                       variants=rows or [{"language": default, "arm": "A", "body": ""}], error=str(exc),
                       error_at=error_place(exc))
            return
        self.redirect(f"/templates/{saved}?saved=1")

    def _form(self, *, name: str, default_language: str, variants: list[dict[str, Any]],
              template_id: int | None = None, error: str | None = None, error_at: str | None = None,
              template: dict[str, Any] | None = None) -> None:
        """``template``: the stored one, whose ``agreed`` campaigns and ``editable`` the page tells."""
        template = template or {}
        self.render("template_edit.html", template_id=template_id, name=name, default_language=default_language,
                    variants=variants, error=error, error_at=error_at, saved=self.get_query_argument("saved", None),
                    can_save=self.current_user.role in CAMPAIGN_MAKERS and template.get("editable", True),
                    agreed=template.get("agreed", []), shared=not template.get("editable", True))


class TemplateDeleteAction(PageHandler):
    """Deletes a template no campaign uses; else back to it with the store's reason."""

    @requires(*CAMPAIGN_MAKERS)
    def post(self, template_id: str) -> None:
        try:
            with self.db.begin() as conn:
                name = store.delete(conn, int(template_id), actor=self.current_user.email,
                                    branch=self.current_user.branch)
        except LookupError:
            raise tornado.web.HTTPError(404) from None
        except (store.TemplateInUse, PermissionError) as exc:
            self.redirect(f"/templates/{template_id}?" + tornado.httputil.urlencode({"error": str(exc)}))
            return
        self.redirect("/templates?" + tornado.httputil.urlencode({"deleted": name}), status=303)


TEMPLATE_ROUTES = [
    (r"/templates", TemplatesPage),
    (r"/templates/new", TemplateEditPage),
    (r"/templates/(\d+)", TemplateEditPage),
    (r"/templates/(\d+)/delete", TemplateDeleteAction),
    (r"/api/v1/templates/preview", TemplatePreviewApi),
]
