"""Phone numbers in exports: an HMAC-SHA256 of the E.164 number under the installation's export key,
as 64 hex digits. The same number gives the same hash in every run and every dataset, so BI joins on
it; without the key nobody can go back from a hash to a number (a dictionary of all numbers would
need the key to be built).

The key: ENGAGE_EXPORT_KEY, else one generated once into $ENGAGE_HOME/export_key (mode 0600) beside
the installation's other secrets; never in the export directory, never logged or printed.

On PostgreSQL the hash is computed by the database while it streams the rows (its built-in sha256(),
so no extension is needed): HMAC(k, m) = sha256((k ^ opad) || sha256((k ^ ipad) || m)). The two
padded keys travel as bound parameters of a set_config() local to the export's transaction, never in
the text of the long COPY statement that statement logs would show. SQLite calls engage_hmac(), a
function this module registers on the connection.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from engage import config

BLOCK = 64  # SHA-256's block size: what HMAC pads the key to


class ExportKeyError(RuntimeError):
    pass


def export_key(exports_dir: Path | None = None) -> bytes:
    """The key: configured, else generated once (atomically: two processes racing get the same)."""
    configured = config.load().export_key
    if configured:
        return configured.encode()
    home = Path(os.environ.get("ENGAGE_HOME", str(config.DEFAULT_HOME))).resolve()
    if exports_dir is not None and home.is_relative_to(exports_dir.resolve()):
        raise ExportKeyError(f"ENGAGE_HOME ({home}) is inside the export directory: the export key would be "
                             "handed to BI with the data; set ENGAGE_EXPORT_KEY or move one of them")
    path = home / "export_key"
    if path.is_file() and (existing := path.read_text(encoding="ascii").strip()):
        return existing.encode()
    home.mkdir(parents=True, exist_ok=True)
    draft = home / f".export_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_urlsafe(48))
    try:
        os.link(draft, path)  # whole and at once, as the cookie secret is made
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text(encoding="ascii").strip().encode()


def hash_msisdn(key: bytes, msisdn: str | None) -> str | None:
    """The reference: what both databases compute, and what an analyst holding the key can check."""
    if msisdn is None:
        return None
    return hmac.new(key, msisdn.encode(), "sha256").hexdigest()


def pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC's inner and outer padded keys (RFC 2104)."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


POSTGRES_KEYS = "(SELECT decode(current_setting('engage.export_ipad'), 'hex') AS ipad, " \
                "decode(current_setting('engage.export_opad'), 'hex') AS opad) AS export_key"


def postgres_hash(expression: str) -> str:
    return (f"encode(sha256(export_key.opad || sha256(export_key.ipad || convert_to({expression}, 'UTF8'))), "
            "'hex')")


def set_postgres_key(cursor: Any, key: bytes) -> None:
    """The padded keys for this transaction only (set_config(..., true)): gone at its end."""
    ipad, opad = pads(key)
    cursor.execute("SELECT set_config('engage.export_ipad', %s, true), set_config('engage.export_opad', %s, true)",
                   (ipad.hex(), opad.hex()))


def e164(expression: str) -> dict[str, str]:
    """A number as gateways give it, in the E.164 form subscribers.msisdn holds: digits only get their
    "+" ("998991000197" -> "+998991000197"), as effectiveness/facts.py matches answers; anything else
    (already "+...", a sender id such as "MTN-INFO") is left as it is. Hashed, it joins the subscriber's."""
    return {"postgresql": f"CASE WHEN {expression} ~ '^[0-9]+$' THEN '+' || {expression} ELSE {expression} END",
            "sqlite": f"CASE WHEN {expression} <> '' AND {expression} NOT GLOB '*[^0-9]*' THEN '+' || {expression} "
                      f"ELSE {expression} END"}


def register_sqlite_hash(dbapi_conn: Any, key: bytes) -> None:
    dbapi_conn.create_function("engage_hmac", 1, lambda m: hash_msisdn(key, m), deterministic=True)


def sqlite_hash(expression: str) -> str:
    return f"engage_hmac({expression})"
