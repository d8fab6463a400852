"""A programme's sub-navigation: its pages, each shown only to whom may open it. An approver may
open the point loads and adjustments (to decide them) but not the programme's other pages, and a
user of a branch no point loads: a link that answers 403 is not offered."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from engage.engine.users.roles import LOYALTY_READERS
from engage.web.loyalty_adjustment_pages import ADJUSTMENT_VIEWERS
from engage.web.loyalty_load_pages import LOAD_VIEWERS


@dataclass(frozen=True)
class Section:
    path: str  # after /loyalty/<code>/; "" is the overview (/loyalty?programme=<code>)
    label: str
    roles: Collection[str]
    any_branch: bool = True  # False: for users of no branch only


SECTIONS = (Section("", "Overview", LOYALTY_READERS), Section("settings", "Settings", LOYALTY_READERS),
            Section("levels", "Levels", LOYALTY_READERS), Section("rewards", "Rewards", LOYALTY_READERS),
            Section("partners", "Partners", LOYALTY_READERS), Section("reports", "Reports", LOYALTY_READERS),
            Section("adjustments", "Adjustments", ADJUSTMENT_VIEWERS),
            Section("loads", "Point loads", LOAD_VIEWERS, any_branch=False),
            Section("incidents", "Incidents", LOYALTY_READERS))


def links(user: Any, code: str, here: str) -> list[tuple[str, str, bool]]:
    """(href, label, is the current page) of each section this user may open."""
    out = []
    for s in SECTIONS:
        if user is None or user.role not in s.roles or (not s.any_branch and user.branch is not None):
            continue
        href = f"/loyalty?programme={code}" if not s.path else f"/loyalty/{code}/{s.path}"
        current = here == "/loyalty" if not s.path else here.startswith(f"/loyalty/{code}/{s.path}")
        out.append((href, s.label, current))
    return out
