"""Adding, changing and listing providers. Every change is checked by the provider kind's own
validate_config before it is stored, and audit-logged; secrets are stored for the sender, never
shown or logged."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from engage.engine.audit import audit
from engage.engine.providers import KINDS, common_settings
from engage.engine.store.schema import Provider

SECRET_KEYS = {"password", "api_key", "token", "callback_token", "secret", "client_secret"}
SECRET_HEADERS = {"authorization", "proxy-authorization", "x-api-key"}
MASK = "***"
providers = Provider.__table__


def is_secret(key: str) -> bool:
    k = key.lower()
    return k in SECRET_KEYS or k.endswith(("_password", "_token", "_secret", "_api_key"))


def masked(config: dict[str, Any]) -> dict[str, Any]:
    """The config with every secret shown as ***, headers named Authorization included."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if is_secret(key):
            out[key] = MASK
        elif key.lower() == "headers" and isinstance(value, dict):
            out[key] = {h: (MASK if h.lower() in SECRET_HEADERS else v) for h, v in value.items()}
        elif isinstance(value, dict):
            out[key] = masked(value)
        else:
            out[key] = value
    return out


def merged(old: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``patch`` over ``old``, nested objects merged key by key. A null removes a key; a *** (what
    `provider list` shows) keeps the stored secret, so a listed config can be edited and given back."""
    out = dict(old)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif value == MASK and key in old:
            continue
        elif isinstance(value, dict) and isinstance(old.get(key), dict):
            out[key] = merged(old[key], value)
        else:
            out[key] = value
    return out


def find(conn: Connection, ref: str | int) -> Row:
    """A provider by name, or by id when ``ref`` is all digits and no provider has it as name."""
    row = conn.execute(select(providers).where(providers.c.name == str(ref))).first()
    if row is None and str(ref).isdigit():
        row = conn.execute(select(providers).where(providers.c.id == int(ref))).first()
    if row is None:
        raise LookupError(f"no provider named or numbered {str(ref)!r}; see `engage provider list`")
    return row


def validated(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The kind's own check of its keys and common_settings' of the keys every kind has
    (ValueError naming the field), or ValueError for an unknown kind."""
    cls = KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown provider kind {kind!r}: expected one of {', '.join(sorted(KINDS))}")
    if not isinstance(config, dict):
        return cls.validate_config(config)  # the kind says what it expects
    common, own = common_settings.split(config)
    return {**cls.validate_config(own), **common_settings.checked(common)}


NO_TPS = "none"  # a provider's tps when its rate is not known: the sender finds what the SMSC accepts


def _check_numbers(tps: int | str | None, priority: int | None) -> None:
    if tps is not None and tps != NO_TPS and (isinstance(tps, bool) or not isinstance(tps, int) or tps < 1):
        raise ValueError(f"tps must be a whole number of parts per second, at least 1, or {NO_TPS!r} when the "
                         f"provider's rate is not known, not {tps!r}")
    if priority is not None and not isinstance(priority, int):
        raise ValueError(f"priority must be a whole number, not {priority!r}")


def add_provider(conn: Connection, *, name: str, kind: str, config: dict[str, Any], tps: int | str | None = 100,
                 priority: int = 100, enabled: bool = True, actor: str) -> int:
    """``tps`` None or "none": no rate is configured (stored NULL)."""
    if not name or not name.strip():
        raise ValueError("a provider needs a name")
    _check_numbers(tps, priority)
    tps = None if tps == NO_TPS else tps
    if conn.execute(select(providers.c.id).where(providers.c.name == name)).first() is not None:
        raise ValueError(f"a provider named {name!r} already exists: choose another name, or change that one")
    config = validated(kind, config)
    provider_id = conn.execute(insert(providers).values(
        name=name, kind=kind, config=config, tps=tps, priority=priority, enabled=enabled)).inserted_primary_key[0]
    audit(conn, actor, "provider.add", "provider", provider_id, name=name, kind=kind, tps=tps, priority=priority,
          enabled=enabled, config=masked(config))
    return provider_id


def add_smpp(conn: Connection, *, name: str, host: str, port: int, system_id: str, password: str,
             tps: int = 500, binds: int = 1, window: int = 32, priority: int = 100, actor: str,
             **extra: Any) -> int:
    """An SMPP provider from its usual settings; ``extra`` holds any other SMPP config key."""
    config = {"host": host, "port": port, "system_id": system_id, "password": password,
              "binds": binds, "window": window, **extra}
    return add_provider(conn, name=name, kind="smpp", config=config, tps=tps, priority=priority, actor=actor)


def update_provider(conn: Connection, ref: str | int, *, config: dict[str, Any] | None = None,
                    tps: int | str | None = None, priority: int | None = None, name: str | None = None,
                    actor: str) -> dict[str, Any]:
    """Change what is given; config keys are merged into the stored config, secrets kept unless given.
    ``tps`` "none" forgets the configured rate."""
    row = find(conn, ref)
    _check_numbers(tps, priority)
    values: dict[str, Any] = {}
    if tps == NO_TPS:
        tps = None
        if row.tps is not None:
            values["tps"] = None
    if name is not None and name != row.name:
        if not name.strip():
            raise ValueError("a provider needs a name")
        if conn.execute(select(providers.c.id).where(providers.c.name == name)).first() is not None:
            raise ValueError(f"a provider named {name!r} already exists")
        values["name"] = name
    changed_keys: list[str] = []
    if config:
        new_config = validated(row.kind, merged(dict(row.config), config))
        changed_keys = sorted(k for k in set(new_config) | set(row.config)
                              if new_config.get(k) != row.config.get(k))
        if changed_keys:
            values["config"] = new_config
    for column, value in (("tps", tps), ("priority", priority)):
        if value is not None and value != getattr(row, column):
            values[column] = value
    if values:
        conn.execute(update(providers).where(providers.c.id == row.id).values(**values))
        shown = {k: v for k, v in values.items() if k != "config"}
        if changed_keys:
            after = masked(values["config"])
            shown["config"] = {k: after.get(k, None) for k in changed_keys}
        audit(conn, actor, "provider.update", "provider", row.id, name=row.name, changes=shown)
    return describe(find(conn, row.id))


def set_enabled(conn: Connection, ref: str | int, enabled: bool, *, actor: str) -> dict[str, Any]:
    """Disabled providers get no new routes; a running sender finishes what it holds."""
    row = find(conn, ref)
    if row.enabled != enabled:
        conn.execute(update(providers).where(providers.c.id == row.id).values(enabled=enabled))
        audit(conn, actor, "provider.enable" if enabled else "provider.disable", "provider", row.id, name=row.name)
    return describe(find(conn, row.id))


def describe(row: Row) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "kind": row.kind, "enabled": row.enabled, "tps": row.tps,
            "priority": row.priority, "config": masked(dict(row.config))}


def rows(conn: Connection, provider_id: int | None = None) -> list[Row]:
    """Every provider's row (its config as stored, secrets and all) in priority order; or the one
    numbered ``provider_id``, if it exists."""
    query = select(providers).order_by(providers.c.priority, providers.c.id)
    if provider_id is not None:
        query = query.where(providers.c.id == provider_id)
    return list(conn.execute(query).all())


def list_providers(conn: Connection) -> list[dict[str, Any]]:
    return [describe(p) for p in rows(conn)]
