"""The subscriber's profile fields loyalty_points and loyalty_tier, kept from the ledger: the first
programme's (the lowest id) available points and level, written in the transaction that changed
them. So everything that reads the profile reads the ledger's figures: segment criteria
(loyalty_points >= 1000, tier is gold), message templates ("You have {{ loyalty_points }} points",
the BAL keyword's reply), USSD menus. Before a programme exists they are the imported values."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, bindparam, text

from engage.engine.store.bulk import chunks

_MIRROR = """
    UPDATE subscribers SET loyalty_points = b.available, loyalty_tier = m.level, updated_at = CURRENT_TIMESTAMP
    FROM loyalty_members AS m JOIN loyalty_balances AS b ON b.member_id = m.id
    WHERE subscribers.id = m.subscriber_id AND m.id IN {members}
      AND m.programme_id = (SELECT min(id) FROM loyalty_programmes)
      AND (subscribers.loyalty_points IS DISTINCT FROM b.available OR subscribers.loyalty_tier IS DISTINCT FROM m.level)
"""


def mirror(conn: Connection, member_ids: Collection[int]) -> None:
    """Copy these members' balance and level to their subscriber rows (first programme only)."""
    statement = text(_MIRROR.format(members=":members")).bindparams(bindparam("members", expanding=True))
    for part in chunks(sorted(set(member_ids)), 5_000):
        conn.execute(statement, {"members": list(part)})


def mirror_where(conn: Connection, members_sql: str, params: dict) -> None:
    """The same for the members a subquery of our own names (expiry's batch of lots), its values
    bound."""
    conn.execute(text(_MIRROR.format(members=f"({members_sql})")), params)
