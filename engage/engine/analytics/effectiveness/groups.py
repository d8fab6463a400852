"""The customer groups a campaign's results are broken down by: a profile field as stored (region,
contract_type, loyalty_tier, gender, network, ...: the field catalogue's words, engine.subscriber_fields)
or a band derived from a date (age from birth_date, tenure from activation_date). Each group is an SQL
expression over the subscribers table giving the member's group value, '' when unknown.

Bands are cut in Python into bounds of the date column itself, as the age and tenure criteria of the
segment builder do (segments.kinds.spans.units_ago): "35-44" is birth_date in (today - 45 years,
today - 35 years], so no date arithmetic runs per row and both databases agree. Ages are counted on the
campaign's launch date, so a recomputation next year puts nobody in another band."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, String, case, cast, func, literal

from engage.engine import subscriber_fields as sf
from engage.engine.segments.kinds.spans import units_ago
from engage.engine.store.schema import Subscriber

# derived bands: (the date column, the unit of the edges, default edges, the label's unit word)
BANDS: dict[str, tuple[str, str, tuple[int, ...], str]] = {
    "age_band": ("birth_date", "years", (18, 25, 35, 45, 55, 65), ""),
    "tenure_band": ("activation_date", "months", (3, 12, 24, 60), " months"),
}
BAND_LABELS = {"age_band": "Age", "tenure_band": "Customer for"}
# personal data and free text are never a group; numbers and dates only through a band
_GROUPABLE_TYPES = (sf.TEXT, sf.CHOICE, sf.BOOL)
_NOT_GROUPS = {"msisdn", "first_name", "last_name"}
FIELDS = tuple(name for name, f in sf.FIELDS.items() if f.type in _GROUPABLE_TYPES and name not in _NOT_GROUPS)
NAMES = FIELDS + tuple(BANDS)
MAX_VALUE = 100  # campaign_results.grp holds this many characters of a value
IN_SEGMENT, OUT_OF_SEGMENT = "in", "out"
SEGMENT_PREFIX = "segment:"  # a segment group's name: "segment:12"


@dataclass(frozen=True)
class Group:
    """One way to break the recipients down: `name` is a profile field or a band; `edges` a band's
    cut points in its unit (years of age, months of tenure), ascending."""

    name: str
    edges: tuple[int, ...] = ()
    segment: int | None = None  # a saved segment's id: its members ("in") against the rest ("out")
    segment_name: str = ""

    @property
    def label(self) -> str:
        if self.segment is not None:
            return f"Segment “{self.segment_name}”"
        return BAND_LABELS.get(self.name) or sf.label_of(self.name)

    def as_json(self) -> str | dict[str, Any]:
        if self.segment is not None:
            return {"segment": self.segment, "name": self.segment_name}
        if self.name in BANDS and self.edges != BANDS[self.name][2]:
            return {"field": self.name, "edges": list(self.edges)}
        return self.name

    def values(self) -> list[str]:
        """A band's values in their natural order ('' for unknown last); [] for a field."""
        if self.segment is not None:
            return [IN_SEGMENT, OUT_OF_SEGMENT, ""]
        if self.name not in BANDS:
            return []
        unit = BANDS[self.name][3]
        e = self.edges
        return ([f"<{e[0]}{unit}"] + [f"{lo}-{hi - 1}{unit}" for lo, hi in zip(e, e[1:], strict=False)]
                + [f"{e[-1]}+{unit}", ""])

    def words(self, value: str) -> str:
        """A stored group value as a page says it: a choice by its name, yes/no, 'Unknown' for ''."""
        if value == "":
            return "Unknown"
        if self.segment is not None:
            return "In the segment" if value == IN_SEGMENT else "Not in it"
        field = sf.FIELDS.get(self.name)
        if field is not None and field.type == sf.BOOL:
            return "Yes" if value in ("1", "true", "True") else "No"
        return str(field.words(value)) if field is not None else value

    def expression(self, on: date, segment_condition: ColumnElement[bool] | None = None) -> ColumnElement[str]:
        """The member's group value as of the date `on`, '' when the profile does not say. A segment
        group is given its segment's condition on subscribers (compiled with a connection: facts.py)."""
        if self.segment is not None:
            if segment_condition is None:  # the segment was deleted since: nobody can be said to be in it
                return literal("")
            return case((Subscriber.id.is_(None), literal("")), (segment_condition, literal(IN_SEGMENT)),
                        else_=literal(OUT_OF_SEGMENT))
        if self.name in BANDS:
            column_name, unit, _, _ = BANDS[self.name]
            column = Subscriber.__table__.c[column_name]
            values = self.values()
            whens = [(column.is_(None), literal(""))]
            whens += [(column > units_ago(on, edge, unit), literal(value)) for edge, value in zip(self.edges, values,
                                                                                                  strict=False)]
            return case(*whens, else_=literal(values[-2]))
        column = Subscriber.__table__.c[self.name]
        if sf.FIELDS[self.name].type == sf.BOOL:
            return case((column.is_(None), literal("")), (column, literal("1")), else_=literal("0"))
        return func.coalesce(func.substr(cast(column, String), 1, MAX_VALUE), literal(""))


def field_names_in_words() -> str:
    return ", ".join(NAMES)
