"""Settings from the environment, so every command and process agrees on where the truth is."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOME = Path(".engage")


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    exports_dir: Path
    default_region: str
    send_lease: float = 60.0  # s a sender may hold a claimed message before the sweeper takes it back
    republish_after: float = 30.0  # s a queued message may wait, its provider's queue empty, before re-publish
    orphan_after: float = 86_400.0  # s an unmatched receipt is re-scanned before it is set aside as orphaned
    max_queued_batches: int = 40  # per provider queue: the dispatcher waits while a queue holds this many
    failover_after: float = 30.0  # s a provider must be down before its queued messages go elsewhere
    api_tokens: str = ""  # ENGAGE_API_TOKENS: "token[@branch],..." for /api/v1 clients (integrations)
    default_timezone: str = "Asia/Tashkent"  # schedules', and recipients' whose profile has none
    approval_above: int = 0  # reachable audience above which a second person must approve; 0: never
    approval_roles: str = "marketer"  # comma-separated roles whose campaigns always need approval
    approval_tolerance: str = "10%"  # how far a run's audience may pass the approved one's before it is sent back
    frequency_cap: str = ""  # "3/7": at most 3 marketing messages per subscriber per 7 days; "": none
    missed_run_grace: float = 900.0  # s a run may start late; missed by more, it is skipped and recorded
    reply_window: float = 72.0  # h after a message to a number within which the number's MO is a reply to it
    # LDAP / Active Directory sign-in (engine.users.ldap_signin); off while ldap_url is empty
    ldap_url: str = ""  # ENGAGE_LDAP_URL: ldaps://dc.example.com (or ldap://... with ENGAGE_LDAP_START_TLS)
    ldap_bind_dn: str = ""  # ENGAGE_LDAP_BIND_DN: a service account that may search; "": an anonymous search
    ldap_bind_password: str = field(default="", repr=False)  # ENGAGE_LDAP_BIND_PASSWORD: never printed
    ldap_base_dn: str = ""  # ENGAGE_LDAP_BASE_DN: where people are searched for, e.g. DC=example,DC=com
    ldap_user_filter: str = "(|(mail={email})(userPrincipalName={email}))"  # ENGAGE_LDAP_USER_FILTER
    ldap_role_groups: str = ""  # ENGAGE_LDAP_ROLE_GROUPS: "admin=CN=engage-admins,OU=...;marketer=CN=..."
    ldap_branch_attribute: str = ""  # ENGAGE_LDAP_BRANCH_ATTRIBUTE: e.g. department; "": no branch
    ldap_start_tls: bool = False  # ENGAGE_LDAP_START_TLS: upgrade an ldap:// connection with StartTLS
    ldap_ca_file: str = ""  # ENGAGE_LDAP_CA_FILE: the CA that signed the directory's certificate; "": the system's
    ldap_timeout: str = ""  # ENGAGE_LDAP_TIMEOUT: s to connect and for each answer (10); ldap_signin names a bad one
    ldap_recheck_seconds: str = ""  # ENGAGE_LDAP_RECHECK_SECONDS: how often a signed-in person is asked about (60)
    live_counts: str = "auto"  # ENGAGE_LIVE_COUNTS: segment counts from memory in the web process (segments.live)
    # Parquet exports for BI (engine.analytics.exports, docs/exports.md)
    export_key: str = field(default="", repr=False)  # ENGAGE_EXPORT_KEY: hashes numbers; "": $ENGAGE_HOME/export_key
    export_every: str = ""  # ENGAGE_EXPORT_EVERY: "daily" or minutes between scheduled exports; "": off
    export_text: bool = False  # ENGAGE_EXPORT_TEXT: names and free text (message body, MO text) exported too
    export_settle: float = 60.0  # ENGAGE_EXPORT_SETTLE: s a row waits before an export takes it (open transactions)


def load() -> Settings:
    home = Path(os.environ.get("ENGAGE_HOME", str(DEFAULT_HOME)))
    return Settings(
        database_url=os.environ.get("ENGAGE_DATABASE_URL", f"sqlite:///{home / 'engage.db'}"),
        broker_url=os.environ.get("ENGAGE_BROKER_URL", "memory://"),
        exports_dir=Path(os.environ.get("ENGAGE_EXPORTS_DIR", "exports")),
        default_region=os.environ.get("ENGAGE_DEFAULT_REGION", "UZ"),
        send_lease=float(os.environ.get("ENGAGE_SEND_LEASE", "60")),
        republish_after=float(os.environ.get("ENGAGE_REPUBLISH_AFTER", "30")),
        orphan_after=float(os.environ.get("ENGAGE_ORPHAN_AFTER", "86400")),
        max_queued_batches=int(os.environ.get("ENGAGE_MAX_QUEUED_BATCHES", "40")),
        failover_after=float(os.environ.get("ENGAGE_FAILOVER_AFTER", "30")),
        api_tokens=os.environ.get("ENGAGE_API_TOKENS", ""),
        default_timezone=os.environ.get("ENGAGE_DEFAULT_TIMEZONE", "Asia/Tashkent"),
        approval_above=int(os.environ.get("ENGAGE_APPROVAL_ABOVE", "0")),
        approval_roles=os.environ.get("ENGAGE_APPROVAL_ROLES", "marketer"),
        approval_tolerance=os.environ.get("ENGAGE_APPROVAL_TOLERANCE", "10%"),
        frequency_cap=os.environ.get("ENGAGE_FREQUENCY_CAP", ""),
        missed_run_grace=float(os.environ.get("ENGAGE_MISSED_RUN_GRACE", "900")),
        reply_window=float(os.environ.get("ENGAGE_REPLY_WINDOW", "72")),
        ldap_url=os.environ.get("ENGAGE_LDAP_URL", "").strip(),
        ldap_bind_dn=os.environ.get("ENGAGE_LDAP_BIND_DN", "").strip(),
        ldap_bind_password=os.environ.get("ENGAGE_LDAP_BIND_PASSWORD", ""),
        ldap_base_dn=os.environ.get("ENGAGE_LDAP_BASE_DN", "").strip(),
        ldap_user_filter=os.environ.get("ENGAGE_LDAP_USER_FILTER", "").strip()
        or "(|(mail={email})(userPrincipalName={email}))",
        ldap_role_groups=os.environ.get("ENGAGE_LDAP_ROLE_GROUPS", "").strip(),
        ldap_branch_attribute=os.environ.get("ENGAGE_LDAP_BRANCH_ATTRIBUTE", "").strip(),
        ldap_start_tls=os.environ.get("ENGAGE_LDAP_START_TLS", "").strip().lower() in ("1", "true", "yes", "on"),
        ldap_ca_file=os.environ.get("ENGAGE_LDAP_CA_FILE", "").strip(),
        ldap_timeout=os.environ.get("ENGAGE_LDAP_TIMEOUT", "").strip(),
        ldap_recheck_seconds=os.environ.get("ENGAGE_LDAP_RECHECK_SECONDS", "").strip(),
        live_counts=os.environ.get("ENGAGE_LIVE_COUNTS", "auto").strip().lower(),
        export_key=os.environ.get("ENGAGE_EXPORT_KEY", "").strip(),
        export_every=os.environ.get("ENGAGE_EXPORT_EVERY", "").strip().lower(),
        export_text=os.environ.get("ENGAGE_EXPORT_TEXT", "").strip().lower() in ("1", "true", "yes", "on"),
        export_settle=float(os.environ.get("ENGAGE_EXPORT_SETTLE", "60")),
    )
