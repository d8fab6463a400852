"""The marketer's words for what segments are made of: profile fields, comparisons, usage kinds.

The definition keeps the code's names ("msisdn", "ge", "call_out"), which the API, the CLI and saved
segments rely on; people building an audience read "Phone number", "is at least", "Outgoing calls".
The words are kept beside the names here (a profile field's label and its choices' words in the field
catalogue, which every page shares), so the builder, the segments list and the errors say the same
thing. A name without words is shown as itself, tidied ("device_os" -> "Device os"), never hidden: a
new kind or parameter is usable before anyone words it."""

from __future__ import annotations

from typing import Any

from engage.engine import subscriber_fields as sf

# a profile field is labelled by the field catalogue (subscriber_fields), as on every other page;
# these are the columns a criterion may read that the catalogue does not hold
OTHER_LABELS = {"created_at": "First imported"}

USAGE_LABELS = {
    "call_out": "Outgoing calls (minutes)", "call_in": "Incoming calls (minutes)", "data": "Data (MB)",
    "sms_out": "SMS sent", "recharge": "Recharges (amount)", "purchase": "Purchases (amount)",
}

# a measure compared with a number: age, points, usage, messages
THRESHOLD_WORDS = {"eq": "exactly", "ne": "not", "lt": "less than", "le": "at most", "gt": "more than",
                   "ge": "at least", "between": "between"}

_LISTS = {"in": "is one of", "not_in": "is none of"}
_UNKNOWN = {"empty": "is unknown", "not_empty": "is known"}
_FIELD_WORDS: dict[str, dict[str, str]] = {
    sf.TEXT: {"eq": "is", "ne": "is not", **_LISTS, "contains": "contains", "starts_with": "starts with",
              "lt": "is below", "le": "is at most", "gt": "is above", "ge": "is at least", "between": "is between",
              "empty": "is empty", "not_empty": "is not empty"},
    sf.CHOICE: {"eq": "is", "ne": "is not", **_LISTS, "empty": "is not set", "not_empty": "is set"},
    sf.NUMBER: {"eq": "is", "ne": "is not", **_LISTS, "lt": "is less than", "le": "is at most",
                "gt": "is more than", "ge": "is at least", "between": "is between", **_UNKNOWN},
    sf.DATE: {"eq": "is on", "ne": "is not on", **_LISTS, "lt": "is before", "le": "is on or before",
              "gt": "is after", "ge": "is on or after", "between": "is between", **_UNKNOWN},
    sf.BOOL: {"eq": "is", "ne": "is not", **_UNKNOWN},
}
_FIELD_WORDS[sf.INTEGER] = _FIELD_WORDS[sf.NUMBER]
_FIELD_WORDS[sf.DATETIME] = _FIELD_WORDS[sf.DATE]

BOOL_WORDS = {True: "yes", False: "no"}

# what to put in a field's value, asked of the marketer
_VALUE_ASKS = {sf.TEXT: "enter a text", sf.NUMBER: "enter a number", sf.INTEGER: "enter a whole number",
               sf.DATE: "enter a date", sf.DATETIME: "enter a date and time", sf.BOOL: "choose yes or no"}


def tidy(name: str) -> str:
    """A code name shown to people when nobody has worded it yet: "device_os" -> "Device os"."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def field_label(name: str) -> str:
    field = sf.FIELDS.get(name)
    return field.label if field is not None else OTHER_LABELS.get(name) or tidy(name)


def operator_words(field_type: str, op: str) -> str:
    """A comparison of a profile field, as it reads between the field and the value ("is at least")."""
    return _FIELD_WORDS.get(field_type, {}).get(op) or tidy(op).lower()


def choice_labels(field: sf.SubscriberField) -> dict[str, str]:
    return {choice: str(field.words(choice)) for choice in field.choices}


def value_ask(field: sf.SubscriberField, op: str) -> str:
    """What the marketer should put in the value of a criterion on `field` with `op`."""
    if op in ("empty", "not_empty"):
        return ""
    if op in ("in", "not_in"):
        if field.type == sf.CHOICE:
            return "choose one or more of " + join_or(list(choice_labels(field).values()))
        return "enter one or more values, separated by commas"
    if op == "between":
        return "enter both ends of the range, the smaller first"
    if field.type == sf.CHOICE:
        return "choose " + join_or(list(choice_labels(field).values()))
    return _VALUE_ASKS.get(field.type, "enter a value")


def join_or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def shown_value(value: Any) -> str:
    """A value in a sentence: lists joined, yes/no for booleans."""
    if isinstance(value, bool):
        return BOOL_WORDS[value]
    if isinstance(value, list):
        return ", ".join(shown_value(v) for v in value)
    return str(value)
