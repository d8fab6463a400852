"""Providers' message ids as they come back in receipts: in another case, or in another base
(hex in the submit_sm_resp, decimal in the receipt, or the other way round)."""

from __future__ import annotations

import string

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
