"""How a campaign's effectiveness is judged, kept in campaigns.analytics (JSON):

    {"conversion": {"kind": "recharge", "days": 7},   a usage event kind, within N days after delivery
     "response_hours": 72,                            replies, keyword use, USSD sessions within it
     "groups": ["region", "contract_type", "age_band",
                {"field": "tenure_band", "edges": [3, 12, 24, 60]}]}

Any key may be left out (the default stands); a NULL column is the defaults throughout. The
conversion kind is any usage event kind engage knows (engine.usage.USAGE_KINDS) or that the
usage_events table holds (an operator's own, e.g. bundle_activation). A mistake raises
SettingsError naming the field at fault ("conversion.days: a whole number of days from 1 to 90"),
as campaign checks do, so a page shows it beside its input."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, select, update

from engage.engine.analytics.effectiveness.groups import BANDS, NAMES, SEGMENT_PREFIX, Group, field_names_in_words
from engage.engine.audit import audit
from engage.engine.segments import store as segments
from engage.engine.store.schema import Campaign, UsageEvent
from engage.engine.usage import USAGE_KINDS

MAX_CONVERSION_DAYS = 90
MAX_RESPONSE_HOURS = 720
MAX_GROUPS = 8
MAX_KIND = UsageEvent.__table__.c.kind.type.length
DEFAULT_GROUPS = (Group("region"), Group("contract_type"), Group("age_band", BANDS["age_band"][2]),
                  Group("tenure_band", BANDS["tenure_band"][2]))
_KEYS = ("conversion", "response_hours", "groups")


class SettingsError(ValueError):
    """Effectiveness settings refused; ``field`` names the setting at fault ("conversion.kind")."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Judging:
    """How one campaign is judged (its settings, parsed); the defaults where it says nothing."""

    conversion_kind: str = "recharge"
    conversion_days: int = 7
    response_hours: int = 72
    groups: tuple[Group, ...] = field(default=DEFAULT_GROUPS)

    def as_json(self) -> dict[str, Any]:
        """The stored form, every key written out: what was judged is then known even if defaults change."""
        return {"conversion": {"kind": self.conversion_kind, "days": self.conversion_days},
                "response_hours": self.response_hours, "groups": [g.as_json() for g in self.groups]}


def parse(raw: Any) -> Judging:
    """The settings from their JSON form (None: the defaults); SettingsError at the first mistake. The
    conversion kind's existence in the data is checked by `checked`, which has a connection."""
    if raw is None:
        return Judging()
    if not isinstance(raw, dict):
        raise SettingsError("analytics", "an object with conversion, response_hours and groups")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise SettingsError(unknown[0], f"not a setting; the settings are {', '.join(_KEYS)}")
    defaults = Judging()
    conversion = raw.get("conversion") or {}
    if not isinstance(conversion, dict):
        raise SettingsError("conversion", 'an object such as {"kind": "recharge", "days": 7}')
    extra = sorted(set(conversion) - {"kind", "days"})
    if extra:
        raise SettingsError(f"conversion.{extra[0]}", "not a setting; a conversion has a kind and days")
    kind = conversion.get("kind", defaults.conversion_kind)
    if not isinstance(kind, str) or not kind.strip() or len(kind.strip()) > MAX_KIND:
        raise SettingsError("conversion.kind", f"a usage kind such as {', '.join(USAGE_KINDS)}")
    days = _whole(conversion.get("days", defaults.conversion_days), "conversion.days", 1, MAX_CONVERSION_DAYS,
                  "days")
    hours = _whole(raw.get("response_hours", defaults.response_hours), "response_hours", 1, MAX_RESPONSE_HOURS,
                   "hours")
    groups = defaults.groups if raw.get("groups") is None else _groups(raw["groups"])
    return Judging(conversion_kind=kind.strip(), conversion_days=days, response_hours=hours, groups=groups)


def _whole(value: Any, name: str, low: int, high: int, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or not low <= value <= high:
        raise SettingsError(name, f"a whole number of {unit} from {low} to {high}, got {value!r}")
    return int(value)


def _groups(raw: Any) -> tuple[Group, ...]:
    if not isinstance(raw, list):
        raise SettingsError("groups", f"a list of profile fields or bands: {field_names_in_words()}")
    if len(raw) > MAX_GROUPS:
        raise SettingsError("groups", f"at most {MAX_GROUPS} groups, got {len(raw)}")
    out: list[Group] = []
    for i, item in enumerate(raw):
        where = f"groups[{i}]"
        if isinstance(item, dict) and "segment" in item:
            out.append(_segment_group(item, where))
            continue
        name, edges = (item.get("field"), item.get("edges")) if isinstance(item, dict) else (item, None)
        if isinstance(item, dict) and set(item) - {"field", "edges"}:
            raise SettingsError(where, "a group is a field name, or {\"field\": ..., \"edges\": [...]} for a band")
        if name not in NAMES:
            raise SettingsError(where, f"{name!r} is not a group; choose from {field_names_in_words()}")
        if name in BANDS:
            out.append(Group(name, _edges(edges, where, name)))
        elif edges is not None:
            raise SettingsError(f"{where}.edges", f"only bands ({', '.join(BANDS)}) have edges")
        else:
            out.append(Group(name))
    names = [g.name for g in out]
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice:
        raise SettingsError("groups", f"{twice} is listed twice")
    return tuple(out)


def _segment_group(item: dict[str, Any], where: str) -> Group:
    """{"segment": 12} (its name filled in by `checked`): the segment's members against the rest."""
    if set(item) - {"segment", "name"}:
        raise SettingsError(where, 'a segment group is {"segment": <the segment\'s number>}')
    segment = item["segment"]
    if isinstance(segment, bool) or not isinstance(segment, int) or segment <= 0:
        raise SettingsError(f"{where}.segment", f"a saved segment's number, got {segment!r}")
    return Group(f"{SEGMENT_PREFIX}{segment}", segment=segment, segment_name=str(item.get("name") or segment))


def _edges(raw: Any, where: str, name: str) -> tuple[int, ...]:
    if raw is None:
        return BANDS[name][2]
    unit = BANDS[name][1]
    if (not isinstance(raw, list) or not 1 <= len(raw) <= 12
            or any(isinstance(e, bool) or not isinstance(e, int) or not 0 < e <= 1200 for e in raw)
            or list(raw) != sorted(set(raw))):
        raise SettingsError(f"{where}.edges", f"1 to 12 ascending whole numbers of {unit}, e.g. {list(BANDS[name][2])}")
    return tuple(raw)


def known_kind(conn: Connection, kind: str) -> bool:
    """A kind engage knows, or one the usage data holds (one index probe of ix_usage_kind_at)."""
    return kind in USAGE_KINDS or conn.execute(
        select(UsageEvent.kind).where(UsageEvent.kind == kind).limit(1)).first() is not None


def checked(conn: Connection, raw: Any, branch: str | None = None) -> Judging:
    """parse, and the conversion kind exists, and each segment group's segment is one the campaign's
    `branch` sees (its name written in, so that the report names it)."""
    settings = parse(raw)
    groups = []
    for i, group in enumerate(settings.groups):
        if group.segment is not None:
            found = segments.get(conn, group.segment, branch)
            if found is None:
                raise SettingsError(f"groups[{i}].segment", f"there is no segment {group.segment}")
            group = replace(group, segment_name=found["name"])
        groups.append(group)
    settings = replace(settings, groups=tuple(groups))
    if not known_kind(conn, settings.conversion_kind):
        raise SettingsError("conversion.kind", f"no usage event has the kind {settings.conversion_kind!r}; "
                                               f"choose one of {', '.join(USAGE_KINDS)} or a kind that was imported")
    return settings


def settings_of(conn: Connection, campaign_id: int) -> Judging:
    """The campaign's settings, the defaults where it has none; LookupError when there is no such campaign."""
    row = conn.execute(select(Campaign.analytics).where(Campaign.id == campaign_id)).first()
    if row is None:
        raise LookupError(f"no campaign {campaign_id}")
    return parse(row.analytics)


def set_settings(conn: Connection, campaign_id: int, settings: Any, actor: str) -> Judging:
    """Check and store how the campaign is judged (its results are recomputed on the next refresh_due);
    audited with what changed."""
    found = conn.execute(select(Campaign.analytics, Campaign.branch).where(Campaign.id == campaign_id)).first()
    if found is None:
        raise LookupError(f"no campaign {campaign_id}")
    new = checked(conn, settings.as_json() if isinstance(settings, Judging) else settings, found.branch)
    before = parse(found.analytics).as_json()
    conn.execute(update(Campaign.__table__).where(Campaign.id == campaign_id).values(analytics=new.as_json()))
    audit(conn, actor, "campaign.analytics", "campaign", campaign_id, before=before, after=new.as_json())
    return new
