"""Levels (Blue, Silver, Gold...): reached by the points a member earned in a rolling window. An
upgrade happens at once, in the transaction that posts the points that earn it; a downgrade only at
the programme's review, and not within the grace period after the member reached their level. The
level is the member's `level` (and the subscriber's loyalty_tier, profile.py), which rules'
multipliers, segments and rewards read.

A programme's levels are part of its settings:

    {"levels": [{"name": "blue", "min": 0}, {"name": "silver", "min": 1000}, {"name": "gold", "min": 5000}],
     "window_days": 365, "grace_days": 30, "review_every_days": 90}
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from engage.engine.loyalty import profile
from engage.engine.store.bulk import chunks, one_of, update_from_values
from engage.engine.store.database import aware
from engage.engine.store.schema import LoyaltyEntry, LoyaltyMember, LoyaltyProgramme

KEYS = {"levels", "window_days", "grace_days", "review_every_days"}


class LevelsError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Levels:
    names: tuple[str, ...]  # lowest first
    minimums: tuple[int, ...]
    window_days: int = 365
    grace_days: int = 30
    review_every_days: int = 90

    def for_points(self, points: int) -> str:
        reached = self.names[0]
        for name, minimum in zip(self.names, self.minimums, strict=True):
            if points >= minimum:
                reached = name
        return reached

    def rank(self, name: str | None) -> int:
        return self.names.index(name) if name in self.names else -1

    def as_json(self) -> dict[str, Any]:
        return {"levels": [{"name": n, "min": m} for n, m in zip(self.names, self.minimums, strict=True)],
                "window_days": self.window_days, "grace_days": self.grace_days,
                "review_every_days": self.review_every_days}


def parse(raw: Any) -> Levels:
    if not isinstance(raw, dict):
        raise LevelsError("levels", "an object: {\"levels\": [{\"name\": \"blue\", \"min\": 0}, ...], ...}")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise LevelsError(unknown[0], f"not a levels setting; they are {', '.join(sorted(KEYS))}")
    items = raw.get("levels")
    if not isinstance(items, list) or not items:
        raise LevelsError("levels", "a list of {name, min}, lowest first")
    names, minimums = [], []
    for i, item in enumerate(items, 1):
        name, minimum = (item.get("name"), item.get("min")) if isinstance(item, dict) else (None, None)
        if not isinstance(name, str) or not 0 < len(name.strip()) <= 32:
            raise LevelsError(f"levels[{i}].name", "1 to 32 characters")
        if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 0:
            raise LevelsError(f"levels[{i}].min", "a whole number of points, 0 or more")
        if minimums and minimum <= minimums[-1]:
            raise LevelsError(f"levels[{i}].min", "each level needs more points than the one before")
        if name.strip().lower() in names:
            raise LevelsError(f"levels[{i}].name", f"{name!r} is named twice")
        names.append(name.strip().lower())
        minimums.append(minimum)
    if minimums[0] != 0:
        raise LevelsError("levels[1].min", "the first level is where every member starts: 0")
    out = {}
    for key, low, high in (("window_days", 1, 3660), ("grace_days", 0, 3660), ("review_every_days", 1, 3660)):
        value = raw.get(key, Levels.__dataclass_fields__[key].default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise LevelsError(key, f"a whole number of days from {low} to {high}")
        out[key] = value
    return Levels(tuple(names), tuple(minimums), **out)


def set_levels(conn: Connection, programme_id: int, raw: Any, *, now: datetime | None = None) -> Levels:
    """Give a programme its levels (checked first); its first review is review_every_days from now."""
    levels = parse(raw)
    settings = dict(conn.execute(select(LoyaltyProgramme.settings).where(
        LoyaltyProgramme.id == programme_id)).scalar_one() or {})
    first_review = (now or datetime.now(UTC)) + timedelta(days=levels.review_every_days)
    settings.update(levels=levels.as_json(), next_review=settings.get("next_review") or first_review.isoformat())
    conn.execute(update(LoyaltyProgramme).where(LoyaltyProgramme.id == programme_id).values(settings=settings))
    conn.execute(update(LoyaltyMember).where(LoyaltyMember.programme_id == programme_id,
                                             LoyaltyMember.level.is_(None)).values(level=levels.names[0]))
    return levels


def of(settings: dict[str, Any] | None) -> Levels | None:
    raw = (settings or {}).get("levels")
    return parse(raw) if raw else None


def qualifying(conn: Connection, member_ids: Collection[int], since: datetime) -> dict[int, int]:
    """Points each member earned since `since` (a reversed earn taken off)."""
    e = LoyaltyEntry
    earned = or_(e.kind == "earn", and_(e.kind == "reversal", e.points < 0, e.cause_id.is_not(None)))
    out: dict[int, int] = {}
    for part in chunks(sorted(member_ids), 5_000):
        out.update(conn.execute(select(e.member_id, func.sum(e.points)).where(
            one_of(conn, e.member_id, list(part)), earned, e.occurred_at >= since).group_by(e.member_id)).all())
    return {m: int(p) for m, p in out.items()}


def upgrade(conn: Connection, member_ids: Collection[int], now: datetime | None = None) -> int:
    """Raise the members whose points now reach a higher level of their programme; how many."""
    if not member_ids:
        return 0
    now = now or datetime.now(UTC)
    ids = sorted(member_ids)
    ladders = {pid: levels for pid, settings in conn.execute(
        select(LoyaltyProgramme.id, LoyaltyProgramme.settings).where(LoyaltyProgramme.id.in_(
            select(LoyaltyMember.programme_id).where(one_of(conn, LoyaltyMember.id, ids)).distinct())))
        if (levels := of(settings)) is not None}
    if not ladders:  # no programme of these members has levels: one small query, nothing more
        return 0
    by_levels: dict[int, tuple[Levels, list[tuple[int, str | None]]]] = {}
    for member_id, level, programme_id in conn.execute(select(
            LoyaltyMember.id, LoyaltyMember.level, LoyaltyMember.programme_id).where(
            one_of(conn, LoyaltyMember.id, ids), LoyaltyMember.programme_id.in_(list(ladders)))):
        by_levels.setdefault(programme_id, (ladders[programme_id], []))[1].append((member_id, level))
    raised = []
    for levels, group in by_levels.values():
        points = qualifying(conn, [m for m, _ in group], now - timedelta(days=levels.window_days))
        for member_id, level in group:
            target = levels.for_points(points.get(member_id, 0))
            if levels.rank(target) > levels.rank(level):
                raised.append({"id": member_id, "level": target})
    _set(conn, raised, now)
    return len(raised)


def review(engine: Engine, programme_id: int, now: datetime | None = None) -> dict[str, int]:
    """At the programme's review date: each member to the level their window's points qualify for,
    a downgrade only past the grace period after they reached their level. Before the date: nothing."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        settings = dict(conn.execute(select(LoyaltyProgramme.settings).where(
            LoyaltyProgramme.id == programme_id)).scalar_one() or {})
        levels = of(settings)
        if levels is None or now < aware(datetime.fromisoformat(settings["next_review"])):
            return {"reviewed": 0, "lowered": 0, "raised": 0}
        rows = conn.execute(select(LoyaltyMember.id, LoyaltyMember.level, LoyaltyMember.level_since).where(
            LoyaltyMember.programme_id == programme_id, LoyaltyMember.status != "closed")).all()
        points = qualifying(conn, [r[0] for r in rows], now - timedelta(days=levels.window_days))
        changed, lowered = [], 0
        for member_id, level, since in rows:
            target = levels.for_points(points.get(member_id, 0))
            if levels.rank(target) < levels.rank(level):
                if since is not None and aware(since) + timedelta(days=levels.grace_days) > now:
                    continue
                lowered += 1
            elif levels.rank(target) == levels.rank(level):
                continue
            changed.append({"id": member_id, "level": target})
        _set(conn, changed, now)
        profile.mirror(conn, [c["id"] for c in changed])
        settings["next_review"] = (now + timedelta(days=levels.review_every_days)).isoformat()
        conn.execute(update(LoyaltyProgramme).where(LoyaltyProgramme.id == programme_id).values(settings=settings))
    return {"reviewed": len(rows), "lowered": lowered, "raised": len(changed) - lowered}


def _set(conn: Connection, changes: list[dict[str, Any]], now: datetime) -> None:
    """One statement for the batch's changes (the caller mirrors the profile)."""
    if changes:
        update_from_values(conn, LoyaltyMember.__table__, "id", changes, extra={"level_since": now})
