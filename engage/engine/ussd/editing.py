"""Saving a menu from the editor (the /menus pages), where a menu is the row being edited, not a name.

menus.save, which `engage ussd menu import` uses, replaces the menu of the document's name. In the
editor that would be wrong twice: renaming a menu would make a second one (its sessions and funnel
left behind on the old row), and giving it another menu's name would overwrite that menu. So here
the edited row keeps its id whatever name it is given now, a name another menu has is refused, and
a new menu never replaces an existing one. The checks, the write and the audit entry are still
menus.save's, in the caller's transaction (a refusal leaves nothing changed)."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from engage.engine.ussd import menus
from engage.engine.ussd.document import MenuError
from engage.engine.ussd.menus import MenuInvalid
from engage.engine.ussd.validation import validate

MAX_NAME = 100


def save_menu(conn: Connection, source: str, *, code: str, name: str | None, actor: str,
              menu_id: int | None = None) -> int:
    """Store the document as menu ``menu_id`` (None: a new menu); its id. The name is ``name``, else the
    document's ``name:``, else (an existing menu) the one it has. Raises MenuInvalid with every error
    (each with its line and screen), LookupError for a menu id that does not exist."""
    current = None
    if menu_id is not None:
        current = conn.execute(select(menus.menus.c.name).where(menus.menus.c.id == menu_id)).scalar()
        if current is None:
            raise LookupError(f"no USSD menu {menu_id}")
    checked = validate(source)
    wanted = (name or "").strip() or str((checked.compiled or {}).get("name") or "").strip() or (current or "")
    unnamed = [] if wanted or checked.compiled is None else [
        MenuError(None, None, "name: the menu needs a name: a line such as 'name: Loyalty club' at the top of the "
                              "document")]
    try:
        menus.normal_code(code)
        bad_code: list[MenuError] = []
    except MenuInvalid as exc:
        bad_code = exc.errors
    if bad_code or unnamed or not checked.ok:
        raise MenuInvalid(bad_code + unnamed + checked.errors)  # every error at once
    if len(wanted) <= MAX_NAME and wanted != current:
        holder = conn.execute(select(menus.menus.c.id).where(menus.menus.c.name == wanted)).scalar()
        if holder is not None:
            raise MenuInvalid([MenuError(None, None, f"name: menu {holder} is called {wanted!r} already; "
                                                     "give this one another name")])
        if menu_id is not None:  # renamed in place, so that menus.save finds this row by its new name
            conn.execute(update(menus.menus).where(menus.menus.c.id == menu_id).values(name=wanted))
    return menus.save(conn, source, code=code, name=wanted, actor=actor)
