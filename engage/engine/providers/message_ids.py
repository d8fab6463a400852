"""Providers' message ids: as they come back in receipts, in another case or in another base (hex in
the submit_sm_resp, decimal in the receipt, or the other way round); as the database can hold them;
and as an earlier part keeps one a newer submit took over (moved_aside). Submits write them,
receipts and callbacks read them."""

from __future__ import annotations

import hashlib
import string

MAX_CHARS = 72  # message_parts.provider_message_id and receipts.provider_message_id
_NOT_HEX = str.maketrans("", "", string.hexdigits.lower())  # deletes hex digits: "" is left of a hex id


def normalise_id(provider_message_id: str) -> str:
    return provider_message_id.strip().lower()


def alternate_id(normalised: str) -> str | None:
    """The same id read in the other base: a hex id's decimal value, or a decimal id's hex
    spelling. Ids longer than 16 hex digits (UUIDs, opaque tokens) have no alternate."""
    if not normalised or len(normalised) > 20 or not normalised.isascii():
        return None
    if normalised.isdigit():
        return format(int(normalised), "x")
    if len(normalised) <= 16 and not normalised.translate(_NOT_HEX):
        return str(int(normalised, 16))
    return None


def receipt_candidates(normalised: str) -> list[str]:
    """An all-digit id in a receipt may be the decimal spelling of a hex id we stored."""
    alt = alternate_id(normalised)
    return [normalised] if alt is None else [normalised, alt]


def id_problem(normalised: object) -> str | None:
    """Why the database cannot hold this id as it is (PostgreSQL text has no NUL; a lone
    surrogate is no UTF-8), or None: an id from outside is checked before it is written."""
    if type(normalised) is not str:
        return f"is not text but {type(normalised).__name__}"
    if not normalised:
        return "is empty"
    if "\x00" in normalised:
        return "has a NUL byte"
    if len(normalised) > MAX_CHARS:
        return f"is longer than {MAX_CHARS} characters"
    if not normalised.isascii():
        try:
            normalised.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid text"
    return None


def storable_id(normalised: str) -> str:
    """The id itself when the database can hold it; else a stand-in made from it the same way
    every time: escapes for what text cannot hold, and a long id cut and suffixed with its hash."""
    if id_problem(normalised) is None:
        return normalised
    text = normalised.replace("\x00", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) <= MAX_CHARS:
        return text or "?"
    digest = hashlib.blake2b(normalised.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"{text[:MAX_CHARS - 17]}~{digest}"


def moved_aside(provider_message_id: str, part_row_id: int) -> str:
    """The id an earlier part keeps once a newer one took its provider id over: cut to fit if need be,
    so it is found by its ending (receipts), never by its beginning."""
    return f"{provider_message_id[:MAX_CHARS - 1 - len(str(part_row_id))]}~{part_row_id}"
