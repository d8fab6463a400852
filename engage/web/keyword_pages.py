"""The Keywords page: what subscribers can text and what each word does, per short code; a form to
add or change one, and "test a text" to see what engage would do with an MO before anyone sends it.
Support reads it to answer subscribers; admin and marketer edit it."""

from __future__ import annotations

from typing import Any

import tornado.httputil
import tornado.web

from engage.engine.keywords import editing, trial, webhooks
from engage.engine.keywords.editing import KeywordError
from engage.engine.keywords.steps import STEPS
from engage.engine.templates import store as templates
from engage.engine.users.roles import KEYWORD_EDITORS, KEYWORD_READERS
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

STEP_ROWS = 4  # step lines the form offers


class KeywordsPage(PageHandler):
    @requires(*KEYWORD_READERS)
    async def get(self) -> None:
        text = self.get_query_argument("text", "")[:160]
        code = self.get_query_argument("code", "").strip()[:32]
        language = self.get_query_argument("language", "").strip()[:8] or None

        def read() -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
            with self.db.begin() as conn:  # begin: the built-in keywords are written on first use
                return editing.list_all(conn), trial.explain(conn, text, code, language) if text.strip() else None
        keywords, tried = await off_loop(read)
        self.render("keywords.html", keywords=keywords, tried=tried, text=text, code=code, language=language or "",
                    can_edit=_may_edit(self),
                    deleted=self.get_query_argument("deleted", ""))


class KeywordPage(PageHandler):
    @requires(*KEYWORD_READERS)
    async def get(self, keyword_id: str | None = None) -> None:
        def read() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
            with self.db.begin() as conn:
                found = editing.get(conn, int(keyword_id)) if keyword_id else None
                return found, templates.list_all(conn)
        keyword, choices = await off_loop(read)
        if keyword_id and keyword is None:
            raise tornado.web.HTTPError(404)
        if keyword and not _may_edit(self):
            # a reader needs to know a webhook is called, not the service's key its URL may hold
            keyword = {**keyword, "steps": [{**s, "url": webhooks.shown(s["url"])} if isinstance(s.get("url"), str)
                                            else s for s in keyword.get("steps") or ()]}
        self._show(keyword or _blank(), choices, {}, saved=bool(self.get_query_argument("saved", "")))

    @requires(*KEYWORD_EDITORS)
    async def post(self, keyword_id: str | None = None) -> None:
        _operator_wide(self)
        values, wrong = _read_form(self)
        if not wrong:
            def save() -> int:
                with self.db.begin() as conn:
                    return editing.save(conn, values, actor=self.current_user.email,
                                        keyword_id=int(keyword_id) if keyword_id else None)
            try:
                saved = await off_loop(save)
            except KeywordError as exc:
                wrong = exc.problems
            else:
                self.redirect(f"/keywords/{saved}?saved=1", status=303)
                return

        def read() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
            with self.db.begin() as conn:
                return (editing.get(conn, int(keyword_id)) if keyword_id else None), templates.list_all(conn)
        before, choices = await off_loop(read)
        shown = {**(before or _blank()), **{k: v for k, v in values.items() if k != "steps"},
                 "steps": values.get("steps", [])}
        self.set_status(400)
        self._show(shown, choices, wrong)

    def _show(self, keyword: dict[str, Any], choices: list[dict[str, Any]], wrong: dict[str, str], *,
              saved: bool = False) -> None:
        steps = list(keyword.get("steps") or [])
        rows = [*steps, *({"kind": ""} for _ in range(max(0, STEP_ROWS - len(steps))))]
        self.render("keyword_edit.html", keyword=keyword, choices=choices, wrong=wrong, saved=saved,
                    step_rows=[(s.get("kind", ""), _step_value(s)) for s in rows], kinds=STEPS,
                    can_edit=_may_edit(self))


class KeywordDelete(PageHandler):
    @requires(*KEYWORD_EDITORS)
    async def post(self, keyword_id: str) -> None:
        _operator_wide(self)

        def remove() -> str:
            with self.db.begin() as conn:
                return editing.remove(conn, int(keyword_id), actor=self.current_user.email)
        try:
            word = await off_loop(remove)
        except KeywordError as exc:
            self.set_status(400)
            self.write(tornado.escape.xhtml_escape(str(exc)))
            return
        self.redirect("/keywords?" + tornado.httputil.urlencode({"deleted": word}), status=303)


def _may_edit(handler: PageHandler) -> bool:
    return handler.current_user.role in KEYWORD_EDITORS and handler.current_user.branch is None


def _operator_wide(handler: PageHandler) -> None:
    """Keywords answer on every branch's short codes: a user of one branch reads them, one of no
    branch changes them (as with shared templates)."""
    if handler.current_user.branch is not None:
        raise tornado.web.HTTPError(403, "keywords are the whole operator's: a user of no branch changes them")


def _blank() -> dict[str, Any]:
    return {"id": None, "word": "", "short_code": "", "aliases": [], "steps": [], "reply_template_id": None,
            "builtin": False, "enabled": True, "built_in_words": []}


def _step_value(spec: dict[str, Any]) -> str:
    """A step's parameters as the form's one box shows them: the tag, the list id, field=value, the url."""
    kind = spec.get("kind")
    if kind == "field":
        return spec.get("field", "") + (f"={spec['value']}" if spec.get("value") is not None else "")
    if kind == "list":
        return str(spec.get("list_id", ""))
    return str(spec.get({"tag": "tag", "webhook": "url"}.get(kind or "", ""), ""))


def _read_form(handler: tornado.web.RequestHandler) -> tuple[dict[str, Any], dict[str, str]]:
    arg = handler.get_body_argument
    wrong: dict[str, str] = {}
    template = arg("reply_template_id", "").strip()
    values: dict[str, Any] = {
        "word": arg("word", "").strip(), "short_code": arg("short_code", "").strip(),
        "aliases": [a for a in arg("aliases", "").replace(",", " ").split() if a],
        "reply_template_id": int(template) if template.isdigit() else None, "enabled": arg("enabled", "") == "on"}
    if arg("builtin", "") == "1":
        del values["word"], values["short_code"]
    steps = []
    for i, (kind, value) in enumerate(zip(handler.get_body_arguments("step_kind"),
                                          handler.get_body_arguments("step_value"), strict=False), 1):
        value = value.strip()
        if not kind:
            continue
        if kind == "tag":
            steps.append({"kind": kind, "tag": value})
        elif kind == "list":
            if not value.isdigit():
                wrong[f"step {i} (list)"] = "list_id: a static list's id (a number)"
                continue
            steps.append({"kind": kind, "list_id": int(value)})
        elif kind == "field":
            name, _, given = value.partition("=")
            steps.append({"kind": kind, "field": name.strip(), "value": given.strip() if given else None})
        elif kind == "webhook":
            steps.append({"kind": kind, "url": value})
        else:
            steps.append({"kind": kind})
    values["steps"] = steps
    return values, wrong


KEYWORD_ROUTES = [(r"/keywords", KeywordsPage), (r"/keywords/new", KeywordPage), (r"/keywords/(\d+)", KeywordPage),
                  (r"/keywords/(\d+)/delete", KeywordDelete)]
