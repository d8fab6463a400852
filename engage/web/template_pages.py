"""The template editor: variants per language and A/B arm, and as the marketer types, a preview for
a sample subscriber with its encoding, characters and parts, and any mistake at its line and
column. The preview is POST /api/v1/templates/preview (the same check the save does), so the page
and an integration see the same messages."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sqlalchemy import select

from engage.engine.store.schema import Template
from engage.engine.templates import store
from engage.engine.templates.render import CompiledTemplate, TemplateError, sample_context
from engage.engine.users.roles import CAMPAIGN_MAKERS, CAMPAIGN_READERS
from engage.web.audience_api import ApiBase
from engage.web.sessions_web import PageHandler, requires

MAX_BODY = 5000
_VARIANT = re.compile(r"^body\.([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})?)\.([A-Za-z0-9]{1,8})$")


def preview_text(body: str, language: str) -> dict[str, Any]:
    """One variant rendered for the sample subscriber: text, encoding, characters, parts; or the error."""
    try:
        rendered = CompiledTemplate(body, language).render(sample_context())
    except TemplateError as exc:
        return {"error": str(exc), "line": exc.line, "column": exc.column}
    info = rendered.info
    return {"text": rendered.text, "encoding": info.encoding, "characters": len(rendered.text),
            "parts": info.parts, "non_gsm_chars": info.non_gsm_chars}


class TemplatePreviewApi(ApiBase):
    session_roles: ClassVar[dict[str, frozenset[str]]] = {"POST": CAMPAIGN_READERS}

    def post(self) -> None:
        data = self.body()
        body, language = data.get("body"), data.get("language", "en")
        if not isinstance(body, str) or len(body) > MAX_BODY:
            self.fail(400, f"body: text of at most {MAX_BODY} characters")
            return
        if not isinstance(language, str) or not language:
            self.fail(400, "language: a language code, like en")
            return
        self.write(preview_text(body, language))


class TemplatesPage(PageHandler):
    @requires()
    def get(self) -> None:
        with self.db.connect() as conn:
            self.render("templates.html", templates=store.list_all(conn))


class TemplateEditPage(PageHandler):
    """New (id None) or an existing template: its variants as rows of language, arm and body."""

    @requires()
    def get(self, template_id: str | None = None) -> None:
        if template_id is None:
            self._form(name="", default_language="en", variants=[{"language": "en", "arm": "A", "body": ""}])
            return
        with self.db.connect() as conn:
            if not conn.execute(select(Template.id).where(Template.id == int(template_id))).first():
                self.send_error(404)
                return
            t = store.get(conn, int(template_id))
        self._form(template_id=t["id"], name=t["name"], default_language=t["default_language"],
                   variants=t["variants"])

    @requires(*CAMPAIGN_MAKERS)
    def post(self, template_id: str | None = None) -> None:
        name = self.get_body_argument("name", "").strip()
        default = self.get_body_argument("default_language", "en").strip()
        by_arm: dict[str, dict[str, str]] = {}
        for key in self.request.body_arguments:
            found = _VARIANT.match(key)
            if found and self.get_body_argument(key).strip():
                by_arm.setdefault(found.group(2), {})[found.group(1)] = self.get_body_argument(key)
        variants = by_arm.pop("A", {})
        try:
            with self.db.begin() as conn:
                if template_id is None:
                    saved = store.create(conn, name, variants, default_language=default, actor=self.current_user.email,
                                         arms=by_arm or None)
                else:
                    saved = int(template_id)
                    store.update(conn, saved, variants, actor=self.current_user.email, default_language=default,
                                 arms=by_arm or None, name=name)
        except (ValueError, LookupError) as exc:
            rows = [{"language": lang, "arm": arm, "body": body}
                    for arm, bodies in {"A": variants, **by_arm}.items() for lang, body in bodies.items()]
            self._form(template_id=int(template_id) if template_id else None, name=name, default_language=default,
                       variants=rows or [{"language": default, "arm": "A", "body": ""}], error=str(exc))
            return
        self.redirect(f"/templates/{saved}?saved=1")

    def _form(self, *, name: str, default_language: str, variants: list[dict[str, Any]],
              template_id: int | None = None, error: str | None = None) -> None:
        self.render("template_edit.html", template_id=template_id, name=name, default_language=default_language,
                    variants=variants, error=error, saved=self.get_query_argument("saved", None),
                    can_save=self.current_user.role in CAMPAIGN_MAKERS)


TEMPLATE_ROUTES = [
    (r"/templates", TemplatesPage),
    (r"/templates/new", TemplateEditPage),
    (r"/templates/(\d+)", TemplateEditPage),
    (r"/api/v1/templates/preview", TemplatePreviewApi),
]
