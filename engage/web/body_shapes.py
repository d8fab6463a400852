"""The shape of the JSON bodies that create and change campaigns and templates, checked before the
engine is called: a key the engine does not take, or a value of the wrong type, is a 400 naming the
field, never Python's own words about keyword arguments or attributes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engage.engine.campaigns.records import FIELDS as CAMPAIGN_FIELDS
from engage.engine.campaigns.rules import OPTIONS as CAMPAIGN_OPTIONS
from engage.engine.store.id_ranges import MAX_ID

TEMPLATE_KEYS = ("name", "variants", "default_language", "arms")


class ShapeError(ValueError):
    """``field``: where in the body; str(): what is wrong there."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def _known(data: dict[str, Any], keys: Iterable[str], what: str) -> None:
    keys = tuple(keys)
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise ShapeError(unknown[0], f"not a {what} field (fields: {', '.join(keys)})")


def _texts(value: Any, field: str) -> dict[str, str]:
    """language -> body"""
    if not isinstance(value, dict):
        raise ShapeError(field, "expected an object of language -> text")
    for language, body in value.items():
        if not isinstance(body, str):
            raise ShapeError(f"{field}.{language}", "expected text")
    return value


def template_body(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The template fields of a POST (``creating``) or PUT body, each of its type."""
    _known(data, TEMPLATE_KEYS, "template")
    for key in ("name", "default_language"):
        if key in data and not (isinstance(data[key], str) or (data[key] is None and not creating)):
            raise ShapeError(key, "expected text")
    variants = _texts(data.get("variants") or {}, "variants")
    arms = data.get("arms")
    if arms is not None:
        if not isinstance(arms, dict):
            raise ShapeError("arms", "expected an object of arm -> {language -> text}")
        arms = {arm: _texts(texts, f"arms.{arm}") for arm, texts in arms.items()}
    return {"name": data.get("name", "" if creating else None), "variants": variants, "arms": arms,
            "default_language": data.get("default_language", "en" if creating else None)}


def campaign_body(data: dict[str, Any]) -> None:
    """A campaign's fields and options: only those the engine takes (their values it checks itself)."""
    _known(data, (*CAMPAIGN_FIELDS, *CAMPAIGN_OPTIONS), "campaign")
    if not isinstance(data.get("name", ""), str):
        raise ShapeError("name", "expected text")
    if not isinstance(data.get("sender_id", ""), str):
        raise ShapeError("sender_id", "expected text")
    for key in ("segment_id", "template_id"):
        if key in data and (isinstance(data[key], bool) or not isinstance(data[key], int)):
            raise ShapeError(key, "expected a whole number (an id)")
        if key in data and not 1 <= data[key] <= MAX_ID:
            raise ShapeError(key, f"{data[key]} is not an id (1 to {MAX_ID:,})")
