"""Saved templates: variants per language and per A/B arm, checked when saved, not at send time.

A template has at least arm "A"; more arms ("B", "C"...) are alternative texts for A/B tests.
Every arm has a variant in the template's default language, so any recipient of any arm gets a
text: their own language's variant when the arm has one, else the default language's.

Branches, as for segments: a template made by a branch user is that branch's; one made by a user of
no branch is shared. A branch user sees their branch's and the shared templates and changes only
their branch's; another branch's template is, for them, not there (LookupError, the API's 404).

Maker-checker: a template cannot be changed while a campaign that uses it awaits approval, is
scheduled, runs or is paused (TemplateInUse naming those campaigns): the approver agreed to this
text. Save a new template and use it in a new draft; drafts do not block.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, insert, or_, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update

from engage.engine import statuses as st
from engage.engine.audit import audit
from engage.engine.store.bulk import conflict_insert
from engage.engine.store.schema import Campaign, Template, TemplateVariant
from engage.engine.templates import limits
from engage.engine.templates.render import CompiledTemplate, TemplateError, check, on_sample

DEFAULT_ARM = "A"
COLUMNS = (Template.id, Template.name, Template.default_language, Template.branch, Template.created_at)
_ARM = re.compile(r"[A-Za-z0-9]{1,8}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})?")  # fits template_variants.language (8)


class TemplateInUse(ValueError):
    """The template cannot be changed or deleted now: a campaign uses it (the message names which)."""


def ensure_builtin(conn: Connection, name: str, texts: Mapping[str, str], *, default_language: str = "en") -> int:
    """The id of a template the system writes on first use (a consent code's text, the "points will
    expire" notice), made with these texts (one per language) if there is none; two first uses at once
    make one row. Once made it is an ordinary template that people edit: this never overwrites it."""
    found = conn.execute(select(Template.id).where(Template.name == name)).scalar()
    if found is not None:
        return found
    made = conn.execute(conflict_insert(conn, Template.__table__).values(name=name, default_language=default_language)
                        .on_conflict_do_nothing(index_elements=["name"]).returning(Template.id)).scalar()
    if made is None:
        return conn.execute(select(Template.id).where(Template.name == name)).scalar_one()
    conn.execute(TemplateVariant.__table__.insert(), [
        {"template_id": made, "language": language, "arm": "A", "body": body} for language, body in texts.items()])
    return made


def sees(template_branch: str | None, branch: str | None) -> bool:
    """Whether a user of ``branch`` (None: every branch) sees a template of ``template_branch``."""
    return branch is None or template_branch in (None, branch)


def visible_row(conn: Connection, template_id: int, branch: str | None) -> Any:
    """The template's row as a user of ``branch`` sees it; LookupError when there is none or it is
    another branch's (the same answer, so that a branch user cannot probe another branch's ids)."""
    row = conn.execute(select(*COLUMNS).where(Template.id == template_id)).first()
    if row is None or not sees(row.branch, branch):
        raise LookupError(f"no template with id {template_id}")
    return row


def _writable(conn: Connection, template_id: int, branch: str | None) -> Any:
    row = visible_row(conn, template_id, branch)
    if branch is not None and row.branch != branch:
        raise PermissionError(f"template {template_id} is shared by every branch: a user of branch {branch!r} "
                              f"reads it and may save a template of their own, not change it")
    return row


def create(conn: Connection, name: str, variants: Mapping[str, str], *, default_language: str, actor: str,
           arms: Mapping[str, Mapping[str, str]] | None = None, branch: str | None = None) -> int:
    """Save a template, ``branch``'s (None: shared). ``variants``: language -> body, arm "A"; ``arms``: more
    arms, arm -> {language -> body}. Raises TemplateError (a ValueError) naming the variant, line and
    column of a mistake."""
    name = (name or "").strip()
    if not name:
        raise ValueError("a template needs a name")
    if conn.execute(select(Template.id).where(Template.name == name)).first():
        raise ValueError(f"a template called {name!r} exists")
    by_arm = _checked(variants, arms, default_language)
    template_id = conn.execute(insert(Template.__table__).values(
        name=name, default_language=default_language, branch=branch)).inserted_primary_key[0]
    _write_variants(conn, template_id, by_arm)
    audit(conn, actor, "template.create", "template", template_id, name=name, default_language=default_language,
          branch=branch, arms=sorted(by_arm), languages=sorted({lang for arm in by_arm.values() for lang in arm}))
    return template_id


def update(conn: Connection, template_id: int, variants: Mapping[str, str], *, actor: str,
           default_language: str | None = None, arms: Mapping[str, Mapping[str, str]] | None = None,
           name: str | None = None, branch: str | None = None) -> None:
    """Replace a template's variants (all arms), checked as when created, by a user of ``branch``.
    Refused while a campaign that uses it was agreed to (see the module's note): an approver approved
    this text, and a running campaign's recipients would get two different texts."""
    row = _writable(conn, template_id, branch)
    agreed = _agreed(conn, template_id)
    if agreed:
        named = ", ".join(f"campaign {c.id} {c.name!r} ({c.status})" if branch is None or c.branch == branch
                          else f"a campaign of another branch ({c.status})" for c in agreed)
        raise TemplateInUse(f"template {template_id} is used by {named}, agreed with this text: save a new "
                            f"template and use it in a new draft, or cancel the campaign first")
    new_name = row.name if name is None else name.strip()
    if not new_name:
        raise ValueError("a template needs a name")
    if new_name != row.name and conn.execute(select(Template.id).where(Template.name == new_name)).first():
        raise ValueError(f"a template called {new_name!r} exists")
    language = default_language or row.default_language
    by_arm = _checked(variants, arms, language)
    conn.execute(sql_update(Template.__table__).where(Template.id == template_id).values(
        name=new_name, default_language=language))
    conn.execute(sql_delete(TemplateVariant.__table__).where(TemplateVariant.template_id == template_id))
    _write_variants(conn, template_id, by_arm)
    audit(conn, actor, "template.update", "template", template_id, name=new_name, default_language=language,
          arms=sorted(by_arm), languages=sorted({lang for arm in by_arm.values() for lang in arm}))


def delete(conn: Connection, template_id: int, *, actor: str, branch: str | None = None) -> str:
    """Delete a template no campaign uses; the audit log keeps its variants. Refused while any campaign
    refers to it, drafts and test sends included, and finished ones too: their history (what was
    sent, the A/B arms) reads the template. A caller of ``branch`` is not told the name of another
    branch's campaign. Returns the template's name."""
    row = _writable(conn, template_id, branch)
    user = conn.execute(select(Campaign.id, Campaign.name, Campaign.status, Campaign.branch).where(
        Campaign.template_id == template_id).order_by(Campaign.id)).first()
    if user is not None:
        if branch is not None and user.branch != branch:
            raise TemplateInUse(f"template {template_id} is used by a campaign of another branch: it is kept")
        why = {st.CAMPAIGN_DRAFT: "delete that draft or give it another template first"}.get(
            user.status, "its history refers to it" if user.status in st.CAMPAIGN_ENDED else "cancel it first")
        raise TemplateInUse(f"template {template_id} is used by campaign {user.id} {user.name!r} ({user.status}): "
                            f"{why}")
    variants = [{"language": language, "arm": arm, "body": body} for language, arm, body in
                _variant_rows(conn, template_id)]
    conn.execute(sql_delete(TemplateVariant.__table__).where(TemplateVariant.template_id == template_id))
    conn.execute(sql_delete(Template.__table__).where(Template.id == template_id))
    audit(conn, actor, "template.delete", "template", template_id, name=row.name,
          default_language=row.default_language, variants=variants)
    return row.name


def get(conn: Connection, template_id: int, branch: str | None = None) -> dict[str, Any]:
    """A template as a user of ``branch`` sees it (LookupError: not for them), with its variants, each
    measured (encoding, parts) on a sample recipient, as the editor shows it; ``editable``: whether
    this user may change it."""
    row = visible_row(conn, template_id, branch)
    variants = []
    for language, arm, body in _variant_rows(conn, template_id):
        entry: dict[str, Any] = {"language": language, "arm": arm, "body": body, "encoding": None, "parts": None,
                                 "error": None}
        try:
            info = on_sample(body, language).info  # remembered: not rendered again on every look
            entry.update(encoding=info.encoding, parts=info.parts)
        except TemplateError as exc:  # saved before a check existed: show it, do not hide the template
            entry["error"] = str(exc)
        variants.append(entry)
    agreed = [dict(c._mapping) for c in _agreed(conn, template_id) if branch is None or c.branch == branch]
    return {"id": row.id, "name": row.name, "default_language": row.default_language, "branch": row.branch,
            "editable": branch is None or row.branch == branch, "created_at": row.created_at, "variants": variants,
            "agreed": [{k: c[k] for k in ("id", "name", "status")} for c in agreed]}


def _agreed(conn: Connection, template_id: int) -> list[Any]:
    """The campaigns using the template that someone agreed to as they are (statuses.CAMPAIGN_AGREED)."""
    return conn.execute(select(Campaign.id, Campaign.name, Campaign.status, Campaign.branch).where(
        Campaign.template_id == template_id, Campaign.status.in_(st.CAMPAIGN_AGREED)).order_by(Campaign.id)).all()


def list_all(conn: Connection, branch: str | None = None) -> list[dict[str, Any]]:
    """The templates a user of ``branch`` sees (None: all), with the languages and arms each has, in id order."""
    query = select(*COLUMNS).order_by(Template.id)
    if branch is not None:
        query = query.where(or_(Template.branch == branch, Template.branch.is_(None)))
    rows = conn.execute(query).all()
    found: dict[int, tuple[set[str], set[str]]] = {r.id: (set(), set()) for r in rows}
    for template_id, language, arm in conn.execute(select(
            TemplateVariant.template_id, TemplateVariant.language, TemplateVariant.arm)):
        if template_id in found:
            found[template_id][0].add(language)
            found[template_id][1].add(arm)
    return [{"id": r.id, "name": r.name, "default_language": r.default_language, "branch": r.branch,
             "created_at": r.created_at, "languages": sorted(found[r.id][0]), "arms": sorted(found[r.id][1])}
            for r in rows]


def choose_language(available: Iterable[str], language: str | None, default: str) -> str:
    """The variant language for a recipient: theirs exactly, else ignoring case, else their base
    language ("uz" for "uz-Cyrl"), else the template's default."""
    available = list(available)
    wanted = (language or "").strip()
    if wanted in available:
        return wanted
    folded = {lang.lower().replace("_", "-"): lang for lang in available}
    wanted = wanted.lower().replace("_", "-")
    return folded.get(wanted) or folded.get(wanted.split("-")[0]) or default


class TemplateSet:
    """A template's variants compiled once per campaign; picks the recipient's language, else the default."""

    def __init__(self, conn: Connection, template_id: int):
        default = conn.execute(select(Template.default_language).where(Template.id == template_id)).scalar()
        if default is None:
            raise LookupError(f"no template with id {template_id}")
        self.template_id = template_id
        self.default_language: str = default
        self.by_arm: dict[str, dict[str, CompiledTemplate]] = {}
        for language, arm, body in _variant_rows(conn, template_id):
            self.by_arm.setdefault(arm, {})[language] = CompiledTemplate(body, language)
        self.variants = self.by_arm.get(DEFAULT_ARM, {})  # arm A, as before arms existed
        self.default = self.variants.get(default)

    @property
    def arms(self) -> list[str]:
        return sorted(self.by_arm)

    @property
    def fields(self) -> frozenset[str]:
        """The subscriber columns any variant uses: all the dispatcher loads per recipient."""
        return frozenset().union(*(t.fields for variants in self.by_arm.values() for t in variants.values()))

    def pick(self, language: str | None, arm: str = DEFAULT_ARM) -> CompiledTemplate:
        """The arm's variant in the recipient's language, else the arm's default-language variant."""
        variants = self.by_arm.get(arm)
        if not variants:
            raise LookupError(f"template {self.template_id} has no arm {arm!r}")
        return variants[choose_language(variants, language, self.default_language)]

    def for_language(self, language: str | None) -> CompiledTemplate:
        return self.pick(language, DEFAULT_ARM)


def _variant_rows(conn: Connection, template_id: int) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in conn.execute(
        select(TemplateVariant.language, TemplateVariant.arm, TemplateVariant.body)
        .where(TemplateVariant.template_id == template_id)
        .order_by(TemplateVariant.arm, TemplateVariant.language))]


def _checked(variants: Mapping[str, str], arms: Mapping[str, Mapping[str, str]] | None,
             default_language: str) -> dict[str, dict[str, str]]:
    """All arms' variants, each compiled with its language's locale; the first mistake is raised
    naming its variant ("variant 'ru' arm 'B': line 2, column 5: ...")."""
    arms = dict(arms or {})
    if DEFAULT_ARM in arms:
        raise ValueError(f"arm {DEFAULT_ARM!r} is given by the variants; name the other arms B, C...")
    by_arm = {DEFAULT_ARM: dict(variants), **{arm: dict(v) for arm, v in arms.items()}}
    if len(by_arm) > limits.MAX_ARMS:
        raise ValueError(f"{len(by_arm)} arms: a template has at most {limits.MAX_ARMS}")
    count = sum(map(len, by_arm.values()))
    if count > limits.MAX_VARIANTS:
        raise ValueError(f"{count} variants: a template has at most {limits.MAX_VARIANTS}, all arms together")
    several = len(by_arm) > 1
    for arm, bodies in by_arm.items():
        if not isinstance(arm, str) or not _ARM.fullmatch(arm):
            raise ValueError(f"arm {arm!r}: an arm is named by 1 to 8 letters or digits")
        in_arm = f" in arm {arm!r}" if several else ""
        if default_language not in bodies:
            raise ValueError(f"default language {default_language!r} has no variant{in_arm}")
        for language, body in bodies.items():
            where = f"variant {language!r}" + (f" arm {arm!r}" if several else "")
            if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
                raise ValueError(f"{where}: {language!r} is not a language code (e.g. en, ru, uz, pt-BR)")
            if not isinstance(body, str) or not body.strip():
                raise TemplateError("the text is empty", where=where)
            try:
                check(body, language)  # over a render limit on the sample recipient: refused too
            except TemplateError as exc:
                raise exc.within(where) from None
    return by_arm


def _write_variants(conn: Connection, template_id: int, by_arm: dict[str, dict[str, str]]) -> None:
    conn.execute(insert(TemplateVariant.__table__), [
        {"template_id": template_id, "language": language, "arm": arm, "body": body}
        for arm, bodies in by_arm.items() for language, body in bodies.items()])
