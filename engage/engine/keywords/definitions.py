"""Which keyword a text is, for the short code it was sent to: the operators' own keywords (table
`keywords`) before the built-in words, and a short code's own before those of every short code. So
"JOIN" on 4455 can be a loyalty sign-up while "JOIN" on 7700 is a quiz, and an operator can give STOP
another word ("ХВАТИТ") without touching matching.py.

The table is small (tens of rows): the handler reads it whole once per batch of MOs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from engage.engine.keywords.builtins import UNKNOWN, ensure
from engage.engine.keywords.matching import BUILT_IN, Match, match, normalise
from engage.engine.store.schema import Keyword

__all__ = ["UNKNOWN", "Definition", "Definitions", "load"]


@dataclass(frozen=True)
class Definition:
    id: int
    word: str
    short_code: str
    aliases: tuple[str, ...]
    steps: tuple[dict[str, Any], ...]
    reply_template_id: int | None
    builtin: bool
    enabled: bool


@dataclass
class Definitions:
    """The keyword rows, indexed by (short code, word) for each of their words."""

    rows: list[Definition]
    _by_word: dict[tuple[str, str], Definition] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for row in self.rows:
            words = (row.word, *row.aliases, *(BUILT_IN.get(row.word, ()) if row.builtin else ()))
            for word in words:
                self._by_word.setdefault((row.short_code, word if word == UNKNOWN else normalise(word)), row)

    def find(self, text: str, short_code: str) -> tuple[Match, Definition | None]:
        """The text's first word read as a keyword, and the row saying what it does on this short code
        (None: nothing, not even the answer to unknown words). A disabled keyword is just a word."""
        found = match(text)
        for code in (short_code, ""):
            row = self._by_word.get((code, found.word))
            if row is not None:
                return (Match(row.word, found.word, found.rest), row) if row.enabled else (
                    Match(None, found.word, found.rest), None)
        if found.keyword is not None:  # a built-in word with no row (a database seeded by hand): its action
            return found, None
        unknown = self._by_word.get((short_code, UNKNOWN)) or self._by_word.get(("", UNKNOWN))
        return found, unknown if unknown is not None and unknown.enabled and found.word else None


def load(conn: Connection) -> Definitions:
    ensure(conn)
    rows = conn.execute(select(Keyword.__table__).order_by(Keyword.id)).all()
    return Definitions([Definition(r.id, r.word, r.short_code or "", tuple(r.aliases or ()), tuple(r.steps or ()),
                                   r.reply_template_id, r.builtin, r.enabled) for r in rows])
