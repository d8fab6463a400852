"""Keywords as operators edit them (the keywords page): checked whole before anything is written,
every problem named by its field, audited. The built-in ones keep their word and their action (STOP
must always opt out: the law in most markets); their aliases, reply and steps are the operator's,
and HELP and the answer to unknown words may be turned off.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from engage.engine.audit import audit
from engage.engine.keywords import definitions
from engage.engine.keywords.builtins import UNKNOWN
from engage.engine.keywords.matching import BUILT_IN, normalise
from engage.engine.keywords.steps import STEPS, problems
from engage.engine.store.schema import Keyword, Template

ALWAYS_ON = ("STOP", "START")
EDITED = ("word", "short_code", "aliases", "steps", "reply_template_id", "enabled")


class KeywordError(ValueError):
    """What is wrong, field by field: {"word": "...", "step 2 (tag)": "..."}."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def list_all(conn: Connection) -> list[dict[str, Any]]:
    """Every keyword, built-in ones first; in a transaction that commits, as the built-in ones are
    written on first use."""
    definitions.load(conn)
    names = dict(conn.execute(select(Template.id, Template.name)).all())
    rows = conn.execute(select(Keyword.__table__).order_by(Keyword.builtin.desc(), Keyword.word,
                                                           Keyword.short_code)).all()
    return [_shown(r, names) for r in rows]


def get(conn: Connection, keyword_id: int) -> dict[str, Any] | None:
    definitions.load(conn)
    row = conn.execute(select(Keyword.__table__).where(Keyword.id == keyword_id)).first()
    if row is None:
        return None
    return _shown(row, dict(conn.execute(select(Template.id, Template.name)).all()))


def _shown(row: Any, names: dict[int, str]) -> dict[str, Any]:
    return {"id": row.id, "word": row.word, "short_code": row.short_code, "aliases": list(row.aliases or ()),
            "built_in_words": list(BUILT_IN.get(row.word, ())[1:]) if row.builtin else [],
            "steps": list(row.steps or ()), "reply_template_id": row.reply_template_id,
            "reply_template": names.get(row.reply_template_id), "builtin": row.builtin, "enabled": row.enabled,
            "updated_by": row.updated_by, "updated_at": row.updated_at,
            "steps_text": ", ".join(STEPS[s["kind"]].label if s.get("kind") in STEPS else str(s.get("kind"))
                                    for s in row.steps or ())}


def save(conn: Connection, values: dict[str, Any], *, actor: str, keyword_id: int | None = None) -> int:
    """Create (keyword_id None) or change a keyword; returns its id."""
    before = None
    if keyword_id is not None:
        before = conn.execute(select(Keyword.__table__).where(Keyword.id == keyword_id)).first()
        if before is None:
            raise KeywordError({"keyword": f"there is no keyword {keyword_id}"})
    clean = _checked(conn, values, before)
    if before is None:
        keyword_id = conn.execute(insert(Keyword.__table__).values(**clean, builtin=False, updated_by=actor)
                                  ).inserted_primary_key[0]
        audit(conn, actor, "keyword.create", "keyword", keyword_id, **clean)
    else:
        conn.execute(update(Keyword.__table__).where(Keyword.id == keyword_id).values(
            **clean, updated_by=actor, updated_at=func.now()))
        audit(conn, actor, "keyword.update", "keyword", keyword_id, **clean)
    return int(keyword_id)


def remove(conn: Connection, keyword_id: int, *, actor: str) -> str:
    row = conn.execute(select(Keyword.__table__).where(Keyword.id == keyword_id)).first()
    if row is None:
        raise KeywordError({"keyword": f"there is no keyword {keyword_id}"})
    if row.builtin:
        raise KeywordError({"keyword": f"{row.word} is built in: turn it off instead"
                            if row.word not in ALWAYS_ON else f"{row.word} is built in and always on"})
    conn.execute(delete(Keyword.__table__).where(Keyword.id == keyword_id))
    audit(conn, actor, "keyword.delete", "keyword", keyword_id, word=row.word, short_code=row.short_code)
    return row.word


def _checked(conn: Connection, values: dict[str, Any], before: Any) -> dict[str, Any]:
    wrong: dict[str, str] = {}
    unknown = set(values) - set(EDITED)
    if unknown:
        wrong["body"] = f"unknown fields {', '.join(sorted(unknown))}; one may set {', '.join(EDITED)}"
    merged = {k: getattr(before, k) for k in EDITED} if before is not None else {
        "word": "", "short_code": "", "aliases": [], "steps": [], "reply_template_id": None, "enabled": True}
    merged.update({k: v for k, v in values.items() if k in EDITED})
    word = normalise(str(merged["word"] or ""))
    if before is not None and before.builtin and word != before.word:
        wrong["word"] = f"{before.word} is built in: its word stays (add aliases instead)"
    elif before is None or not before.builtin:
        if not word or " " in word or len(word) > 32:
            wrong["word"] = "one word of 1 to 32 letters or digits"
        elif word == UNKNOWN or word in {w for words in BUILT_IN.values() for w in map(normalise, words)}:
            wrong["word"] = f"{word} is a built-in word: edit the built-in keyword instead"
    code = str(merged["short_code"] or "").strip()
    if len(code) > 32 or (code and not code.replace("+", "").isalnum()):
        wrong["short_code"] = "a short code or sender id of up to 32 letters or digits, or empty for all"
    if before is not None and before.builtin and code != before.short_code:
        wrong["short_code"] = "a built-in keyword answers on every short code"
    aliases = merged["aliases"]
    if isinstance(aliases, str):
        aliases = [a for a in aliases.replace(",", " ").split() if a]
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        wrong["aliases"] = "a list of words"
        aliases = []
    aliases = list(dict.fromkeys(normalise(a) for a in aliases if normalise(a)))
    if any(len(a) > 32 for a in aliases):
        wrong["aliases"] = "each alias is one word of up to 32 characters"
    for i, why in enumerate(problems(conn, merged["steps"] if merged["steps"] is not None else [])):
        wrong[why.split(":", 1)[0] if ":" in why else f"step {i + 1}"] = why.split(":", 1)[-1].strip()
    template_id = merged["reply_template_id"]
    if template_id in ("", None):
        template_id = None
    elif not isinstance(template_id, int) or isinstance(template_id, bool) or conn.execute(
            select(Template.id).where(Template.id == template_id)).first() is None:
        wrong["reply_template_id"] = f"there is no template {template_id!r}"
    enabled = merged["enabled"]
    if not isinstance(enabled, bool):
        wrong["enabled"] = "true or false"
    elif before is not None and before.builtin and before.word in ALWAYS_ON and not enabled:
        wrong["enabled"] = f"{before.word} is always on: subscribers must be able to text it"
    if not wrong:
        taken = _taken(conn, [word, *aliases], code, before.id if before is not None else None)
        if taken:
            wrong["word"] = taken
    if wrong:
        raise KeywordError(wrong)
    return {"word": word, "short_code": code, "aliases": aliases, "steps": list(merged["steps"] or []),
            "reply_template_id": template_id, "enabled": enabled}


def _taken(conn: Connection, words: list[str], code: str, own: int | None) -> str | None:
    """Another keyword on the same short code answering one of these words."""
    for row in conn.execute(select(Keyword.id, Keyword.word, Keyword.aliases).where(Keyword.short_code == code)):
        if row.id == own:
            continue
        theirs = {row.word, *(row.aliases or ())}
        clash = sorted(theirs & set(words))
        if clash:
            return f"{', '.join(clash)} already answers as keyword {row.word} on {code or 'every short code'}"
    return None
