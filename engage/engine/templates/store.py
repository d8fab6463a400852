"""Saved templates and their variants per language: checked when saved, not at send time."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from engage.engine.audit import audit
from engage.engine.store.schema import Template, TemplateVariant
from engage.engine.templates.render import CompiledTemplate, check


def create(conn: Connection, name: str, variants: dict[str, str], *, default_language: str,
           actor: str) -> int:
    """variants: language -> body; the default language must be one of them."""
    if default_language not in variants:
        raise ValueError(f"default language {default_language!r} has no variant")
    for language, body in variants.items():
        try:
            check(body)
        except ValueError as exc:
            raise ValueError(f"variant {language!r}: {exc}") from None
    template_id = conn.execute(insert(Template.__table__).values(
        name=name, default_language=default_language)).inserted_primary_key[0]
    conn.execute(insert(TemplateVariant.__table__), [
        {"template_id": template_id, "language": lang, "arm": "A", "body": body}
        for lang, body in variants.items()])
    audit(conn, actor, "template.create", "template", template_id, name=name)
    return template_id


class TemplateSet:
    """A template's variants compiled once; picks the recipient's language, else the default."""

    def __init__(self, conn: Connection, template_id: int):
        default = conn.execute(select(Template.default_language).where(Template.id == template_id)).scalar_one()
        rows = conn.execute(select(TemplateVariant.language, TemplateVariant.body).where(
            TemplateVariant.template_id == template_id, TemplateVariant.arm == "A")).all()
        self.variants = {lang: CompiledTemplate(body) for lang, body in rows}
        self.default = self.variants[default]

    def for_language(self, language: str | None) -> CompiledTemplate:
        return self.variants.get(language or "", self.default)
