"""Phone numbers in clear in an export: only when an active admin account is named for it, and
always in the audit log (who at the keyboard, which admin, which datasets, where). Whoever runs the
command line can already read the database; the guard makes the choice explicit and traceable, so
that clear numbers never leave by default or by accident."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from engage.engine.audit import audit
from engage.engine.users import get_user


class ClearNumbersRefused(PermissionError):
    pass


def allow(engine: Engine, admin_email: str | None, *, actor: str, datasets: list[str], directory: Path) -> None:
    """Raises ClearNumbersRefused unless `admin_email` is an active admin; records the grant."""
    if not admin_email:
        raise ClearNumbersRefused("numbers in clear need an admin named with --as EMAIL (recorded in the audit log)")
    with engine.begin() as conn:
        user = get_user(conn, admin_email.strip().lower())
        if user is None or not user.active or user.role != "admin":
            raise ClearNumbersRefused(f"{admin_email}: not an active admin; numbers in clear are refused")
        audit(conn, actor, "export.clear_msisdn", "export", None, admin=user.email, datasets=datasets,
              directory=str(directory.resolve()))
