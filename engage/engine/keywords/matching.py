"""A subscriber's text -> the keyword it is. Subscribers type "stop", " Stop! ", "STOP." or "СТОП":
case, surrounding spaces and punctuation do not count, and each built-in keyword has its words in
the languages engage serves. Only the first word is read: "STOP please" is STOP, "please stop" is not
(a sentence that mentions a word is not the keyword).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# keyword -> its words, any language; the first is its name
BUILT_IN: dict[str, tuple[str, ...]] = {
    "STOP": ("STOP", "STOPP", "STOPALL", "UNSUBSCRIBE", "UNSUB", "END", "QUIT", "CANCEL", "OPTOUT",
             "СТОП", "ОТПИСАТЬСЯ", "ОТПИСКА", "TOXTAT", "TOʻXTAT", "TO'XTAT", "BEKOR", "ARRET", "ARRÊT",
             "ALTO", "PARAR", "ACABAR"),
    "START": ("START", "UNSTOP", "SUBSCRIBE", "OPTIN", "СТАРТ", "ПОДПИСАТЬСЯ", "BOSHLASH", "OBUNA"),
    "HELP": ("HELP", "INFO", "ПОМОЩЬ", "СПРАВКА", "YORDAM", "AIDE", "AYUDA"),
}


@dataclass(frozen=True)
class Match:
    keyword: str | None  # None: no keyword
    word: str  # the first word as read ("" for an empty text)
    rest: str  # what follows it


def normalise(word: str) -> str:
    """Upper case, compatibility forms folded, punctuation and symbols on either side dropped."""
    word = unicodedata.normalize("NFKC", word).upper()
    start, end = 0, len(word)
    while start < end and not word[start].isalnum():
        start += 1
    while end > start and not (word[end - 1].isalnum() or word[end - 1] in "'ʻ"):
        end -= 1
    return word[start:end].replace("ʻ", "'")


_WORDS = {normalise(word): keyword for keyword, words in BUILT_IN.items() for word in words}


def match(text: str) -> Match:
    parts = text.strip().split(None, 1)
    if not parts:
        return Match(None, "", "")
    word = normalise(parts[0])
    return Match(_WORDS.get(word), word, parts[1].strip() if len(parts) > 1 else "")
