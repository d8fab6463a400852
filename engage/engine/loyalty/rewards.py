"""The rewards catalogue: what points buy, with names and descriptions per language, a price in
points, stock, validity, the level it needs and a limit per member, and how it is fulfilled (an
adapter of fulfilment.py). A reward as JSON (the back office, `engage loyalty reward add`, the API):

    {"code": "data1gb", "names": {"en": "1 GB of data", "ru": "1 ГБ интернета"}, "points": 500,
     "stock": 1000, "level": "silver", "per_member": 2, "valid_until": "2027-12-31",
     "fulfilment": "http", "config": {"url": "https://provisioning.example.com/bundles", "timeout": 5}}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update

from engage.engine.loyalty import fulfilment
from engage.engine.store.database import aware
from engage.engine.store.schema import LoyaltyReward, LoyaltyVoucherCode

KEYS = {"code", "names", "descriptions", "points", "stock", "level", "per_member", "valid_from", "valid_until",
        "fulfilment", "config", "active"}
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_VOUCHER_CODE = 64  # loyalty_voucher_codes.code


class RewardError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Reward:
    id: int
    code: str
    names: dict[str, str]
    points: int
    stock: int | None
    level: str | None
    per_member: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    fulfilment: str
    config: dict[str, Any]
    active: bool
    descriptions: dict[str, str] = field(default_factory=dict)

    def name(self, language: str | None) -> str:
        return self.names.get(language or "", next(iter(self.names.values()), self.code))

    def offered(self, now: datetime) -> bool:
        return (self.active and (self.valid_from is None or self.valid_from <= now)
                and (self.valid_until is None or now <= self.valid_until) and (self.stock is None or self.stock > 0))


def parse(raw: Any) -> dict[str, Any]:
    """The reward's columns from JSON, every field checked; RewardError names the first wrong one."""
    if not isinstance(raw, dict):
        raise RewardError("reward", "a JSON object (see engine/loyalty/rewards.py)")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise RewardError(unknown[0], f"not a reward field; they are {', '.join(sorted(KEYS))}")
    code = str(raw.get("code") or "").strip().lower()
    if not CODE.match(code):
        raise RewardError("code", "1 to 32 lower-case letters, digits, _ or -")
    out: dict[str, Any] = {"code": code}
    for key in ("names", "descriptions"):
        texts = raw.get(key) or {}
        if not isinstance(texts, dict) or (key == "names" and not texts) or not all(
                isinstance(k, str) and re.fullmatch(r"[a-z]{2,3}", k) and isinstance(v, str) and 0 < len(v) <= 200
                for k, v in texts.items()):
            raise RewardError(key, "language code -> text (1 to 200 characters), e.g. {\"en\": \"1 GB of data\"}")
        out[key] = texts
    for key, required in (("points", True), ("stock", False), ("per_member", False)):
        value = raw.get(key)
        if value is None and not required:
            out[key] = None
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not (0 if key == "stock" else 1) <= value <= 10**9:
            raise RewardError(key, f"{value!r} is not a whole number" + (" of 1 or more" if key != "stock" else ""))
        out[key] = value
    level = raw.get("level")
    if level is not None and (not isinstance(level, str) or not 0 < len(level) <= 32):
        raise RewardError("level", "a level's name")
    out["level"] = level.lower() if level else None
    for key in ("valid_from", "valid_until"):
        value = raw.get(key)
        try:
            out[key] = None if value is None else aware(datetime.fromisoformat(str(value)))
        except ValueError:
            raise RewardError(key, f"{value!r} is not a date or time such as 2027-12-31") from None
    kind = raw.get("fulfilment", "none")
    if kind not in fulfilment.FULFILMENTS:
        raise RewardError("fulfilment", f"{kind!r} is not one of {', '.join(sorted(fulfilment.FULFILMENTS))}")
    config = raw.get("config") or {}
    problem = fulfilment.FULFILMENTS[kind].check(config) if isinstance(config, dict) else "an object"
    if problem:
        raise RewardError("config", problem)
    out.update(fulfilment=kind, config=config, active=bool(raw.get("active", True)))
    return out


def add(conn: Connection, programme_id: int, raw: Any) -> Reward:
    values = parse(raw)
    if conn.execute(select(LoyaltyReward.id).where(LoyaltyReward.programme_id == programme_id,
                                                   LoyaltyReward.code == values["code"])).first():
        raise RewardError("code", f"the catalogue has a reward {values['code']!r} already")
    conn.execute(insert(LoyaltyReward).values(programme_id=programme_id, **values))
    return get(conn, programme_id, values["code"])


def change(conn: Connection, programme_id: int, code: str, raw: Any) -> Reward:
    """Replace a reward's fields (its code stays: redemptions name it); checked as add() checks them."""
    values = parse({**raw, "code": code}) if isinstance(raw, dict) else parse(raw)
    before = get(conn, programme_id, code)
    values.pop("code")
    conn.execute(update(LoyaltyReward).where(LoyaltyReward.id == before.id).values(**values))
    return by_id(conn, before.id)


def listed(conn: Connection, programme_id: int) -> list[tuple[Reward, int, int]]:
    """The whole catalogue, offered now or not, by code: each reward with its voucher codes, free and in all."""
    codes = {reward_id: (int(free), int(total)) for reward_id, free, total in conn.execute(
        select(LoyaltyVoucherCode.reward_id,
               func.coalesce(func.sum(case((LoyaltyVoucherCode.hold_id.is_(None), 1), else_=0)), 0), func.count())
        .join(LoyaltyReward, LoyaltyReward.id == LoyaltyVoucherCode.reward_id)
        .where(LoyaltyReward.programme_id == programme_id).group_by(LoyaltyVoucherCode.reward_id))}
    rows = conn.execute(select(LoyaltyReward).where(LoyaltyReward.programme_id == programme_id)
                        .order_by(LoyaltyReward.code)).all()
    return [(reward, *codes.get(reward.id, (0, 0))) for reward in map(_reward, rows)]


def add_codes(conn: Connection, reward_id: int, codes: list[str]) -> int:
    """A partner's voucher codes for a reward; codes given before are skipped. How many are new."""
    from engage.engine.store.bulk import conflict_insert

    long = next((n for n, c in enumerate(codes, 1) if len(c.strip()) > MAX_VOUCHER_CODE), None)
    if long is not None:
        raise RewardError("codes", f"line {long}: a code has at most {MAX_VOUCHER_CODE} characters")
    rows = [{"reward_id": reward_id, "code": c.strip()} for c in codes if c.strip()]
    if not rows:
        return 0
    stmt = conflict_insert(conn, LoyaltyVoucherCode.__table__).on_conflict_do_nothing().returning(
        LoyaltyVoucherCode.id)
    return len(conn.execute(stmt, rows).all())


def _reward(row: Any) -> Reward:
    return Reward(row.id, row.code, dict(row.names), row.points, row.stock, row.level, row.per_member,
                  aware(row.valid_from) if row.valid_from else None,
                  aware(row.valid_until) if row.valid_until else None, row.fulfilment, dict(row.config or {}),
                  bool(row.active), dict(row.descriptions or {}))


def get(conn: Connection, programme_id: int, code: str) -> Reward:
    row = conn.execute(select(LoyaltyReward).where(LoyaltyReward.programme_id == programme_id,
                                                   LoyaltyReward.code == code)).first()
    if row is None:
        raise LookupError(f"no reward {code!r} in the catalogue")
    return _reward(row)


def by_id(conn: Connection, reward_id: int) -> Reward:
    return _reward(conn.execute(select(LoyaltyReward).where(LoyaltyReward.id == reward_id)).one())


def catalogue(conn: Connection, programme_id: int, *, level_rank: Any = None, now: datetime | None = None
              ) -> list[Reward]:
    """The rewards on offer now, cheapest first; level_rank(name) -> int filters those a member's
    level reaches (None: all)."""
    now = now or datetime.now(UTC)
    rows = conn.execute(select(LoyaltyReward).where(LoyaltyReward.programme_id == programme_id)
                        .order_by(LoyaltyReward.points, LoyaltyReward.code)).all()
    offered = [r for r in map(_reward, rows) if r.offered(now)]
    return [r for r in offered if level_rank is None or r.level is None or level_rank(r.level)]
