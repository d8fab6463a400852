"""Menus on service codes: saving a document (validated first: a menu with errors is never saved),
listing them, and finding the one a dialled code reaches.

A hop reads only a menu's id and updated_at; the compiled form is read from the database once per
process and kept by (id, updated_at), so a menu saved again is picked up by every web process at
its next hop, and no hop parses a document."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from engage.engine.audit import audit
from engage.engine.store.schema_ussd import UssdMenu
from engage.engine.ussd.document import MenuError
from engage.engine.ussd.validation import validate

menus = UssdMenu.__table__
CODE = re.compile(r"[*#][0-9*#]{1,30}#\Z")  # *123#, *123*5#, #100#


class MenuInvalid(ValueError):
    """A menu that cannot be saved: every error, each with its line and screen."""

    def __init__(self, errors: list[MenuError]) -> None:
        self.errors = errors
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__("; ".join(map(str, errors[:5])) + more)


@dataclass(frozen=True)
class Found:
    """The menu a dialled code reaches, and the digits dialled past its code (a shortcut path)."""

    id: int
    name: str
    compiled: dict[str, Any]
    shortcut: list[str]


def normal_code(code: str) -> str:
    """A service code as stored: no spaces; raises MenuInvalid naming it when it is not one."""
    cleaned = re.sub(r"\s+", "", code or "")
    if not CODE.match(cleaned):
        raise MenuInvalid([MenuError(None, None, f"code {code!r}: a USSD service code such as *123# or *123*5#")])
    return cleaned


def save(conn: Connection, source: str, *, code: str, name: str | None = None, actor: str) -> int:
    """Validate and store the menu (a menu of the same name is replaced, keeping its id and
    sessions); its id. Raises MenuInvalid with every error."""
    code = normal_code(code)
    checked = validate(source)
    if not checked.ok:
        raise MenuInvalid(checked.errors)
    compiled = checked.compiled or {}
    name = (name or compiled.get("name") or "").strip()
    if not name or len(name) > 100:
        raise MenuInvalid([MenuError(None, None, "name: give the menu a name of 1 to 100 characters "
                                                 "(--name, or name: in the document)")])
    taken = _served_by(conn, code, menus.c.name != name)
    if taken is not None:
        raise MenuInvalid([MenuError(None, None, f"code {code}: already served by menu {taken.name!r} "
                                                 f"(id {taken.id}); give that menu another code first")])
    now = datetime.now(UTC)
    if conn.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    values = {"code": code, "document": source, "compiled": compiled, "updated_at": now, "updated_by": actor[:200]}
    menu_id = conn.execute(select(menus.c.id).where(menus.c.name == name)).scalar()
    if menu_id is None:  # a new menu answers at once; a saved one stays switched on or off as it was
        menu_id = conn.execute(insert(menus).values(name=name, active=True, **values).returning(menus.c.id)
                               ).scalar_one()
        audit(conn, actor, "ussd_menu.create", "ussd_menu", menu_id, name=name, code=code)
    else:
        conn.execute(update(menus).where(menus.c.id == menu_id).values(values))
        audit(conn, actor, "ussd_menu.replace", "ussd_menu", menu_id, name=name, code=code)
    return int(menu_id)


def switch(conn: Connection, menu_id: int, active: bool, *, actor: str) -> bool:
    """Serve the menu on its code again, or stop: a session in it gets a polite END at its next hop
    and the code answers "unavailable" to a new dial. Whether anything changed. LookupError for no such
    menu; MenuInvalid when another menu serves the code now."""
    row = conn.execute(select(menus.c.name, menus.c.code, menus.c.active).where(menus.c.id == menu_id)).first()
    if row is None:
        raise LookupError(f"no USSD menu {menu_id}")
    if bool(row.active) == active:
        return False
    if active:
        taken = _served_by(conn, row.code, menus.c.id != menu_id)
        if taken is not None:
            raise MenuInvalid([MenuError(None, None, f"code {row.code}: served by menu {taken.name!r} (id {taken.id}) "
                                                     "now; switch that one off first")])
    conn.execute(update(menus).where(menus.c.id == menu_id).values(active=active))
    audit(conn, actor, "ussd_menu.switch_on" if active else "ussd_menu.switch_off", "ussd_menu", menu_id,
          name=row.name, code=row.code)
    return True


def _served_by(conn: Connection, code: str, other: Any) -> Any:
    """The active menu (id, name) that answers ``code``, of those ``other`` selects, or None."""
    return conn.execute(select(menus.c.id, menus.c.name).where(menus.c.code == code, menus.c.active, other)).first()


def listed(conn: Connection) -> list[dict[str, Any]]:
    """Every menu: id, name, code, active, screens, languages, updated_at, updated_by."""
    rows = conn.execute(select(menus.c.id, menus.c.name, menus.c.code, menus.c.active, menus.c.compiled,
                               menus.c.updated_at, menus.c.updated_by).order_by(menus.c.code, menus.c.name))
    return [{"id": r.id, "name": r.name, "code": r.code, "active": r.active,
             "screens": len((r.compiled or {}).get("screens", {})),
             "languages": (r.compiled or {}).get("languages", []),
             "updated_at": r.updated_at, "updated_by": r.updated_by} for r in rows]


def get(conn: Connection, menu_id: int) -> dict[str, Any] | None:
    """One menu with its document and compiled form (for the menu's page and editor)."""
    row = conn.execute(select(menus).where(menus.c.id == menu_id)).mappings().first()
    return dict(row) if row else None


def dialled(code: str) -> list[str]:
    """The codes a dialled string may mean, longest first: *123*1*2# -> *123*1*2#, *123*1#, *123#."""
    body = re.sub(r"\s+", "", code or "").rstrip("#")
    parts = body.split("*")
    out = []
    for end in range(len(parts), 0, -1):
        candidate = "*".join(parts[:end]) + "#"
        if CODE.match(candidate):
            out.append(candidate)
    return out


def for_code(conn: Connection, code: str) -> Found | None:
    """The active menu the dialled code reaches (the longest code it starts with), or None."""
    candidates = dialled(code)
    if not candidates:
        return None
    rows = conn.execute(select(menus.c.id, menus.c.name, menus.c.code, menus.c.updated_at)
                        .where(menus.c.active, menus.c.code.in_(candidates))).all()
    if not rows:
        return None
    row = max(rows, key=lambda r: len(r.code))
    extra = candidates[0].rstrip("#")[len(row.code.rstrip("#")):].strip("*")
    return Found(row.id, row.name, compiled(conn, row.id, row.updated_at), [d for d in extra.split("*") if d])


_cache: dict[int, tuple[Any, dict[str, Any]]] = {}
_lock = threading.Lock()


def compiled(conn: Connection, menu_id: int, updated_at: Any) -> dict[str, Any]:
    """The menu's compiled form, from this process's cache while the menu is not saved again."""
    held = _cache.get(menu_id)
    if held is not None and held[0] == updated_at:
        return held[1]
    form = conn.execute(select(menus.c.compiled).where(menus.c.id == menu_id)).scalar_one()
    with _lock:
        _cache[menu_id] = (updated_at, form)
    return form


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(menus)).scalar_one())
