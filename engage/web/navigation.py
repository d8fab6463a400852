"""The header's links: each page once, shown to the roles its handler lets in and to the holders of
the grant that opens it (GRANTED; the handler still checks: a hidden link is only so that nobody is
offered a page that answers 403)."""

from __future__ import annotations

from engage.engine.users.roles import (
    ANALYTICS_GRANT,
    ANALYTICS_READERS,
    AUDIENCE_READERS,
    CAMPAIGN_APPROVERS,
    CAMPAIGN_MAKERS,
    INBOUND_READERS,
    KEYWORD_READERS,
    LOYALTY_READERS,
    PAGE_ROLES,
    PROVIDER_READERS,
    SUBSCRIBER_READERS,
    USSD_READERS,
    Grantee,
)

NAV: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("Dashboard", "/dashboard", PAGE_ROLES),
    ("Campaigns", "/campaigns", PAGE_ROLES),
    ("Segments", "/segments", AUDIENCE_READERS),
    ("Subscribers", "/subscribers", SUBSCRIBER_READERS),
    ("Inbound", "/inbound", INBOUND_READERS),
    ("Keywords", "/keywords", KEYWORD_READERS),
    ("USSD", "/menus", USSD_READERS),
    ("Templates", "/templates", PAGE_ROLES),
    ("Analytics", "/analytics", ANALYTICS_READERS),
    ("Loyalty", "/loyalty", LOYALTY_READERS),
    ("Approvals", "/approvals", CAMPAIGN_APPROVERS | CAMPAIGN_MAKERS),
    ("Providers", "/providers", PROVIDER_READERS),
    ("Users", "/users", frozenset({"admin"})),
    ("Audit", "/audit", frozenset({"admin"})),
)


# path -> the grant (engine.users.grants) that opens it to roles NAV does not name
GRANTED: dict[str, str] = {"/analytics": ANALYTICS_GRANT}


def links(user: Grantee | None) -> list[tuple[str, str]]:
    """(label, path) of the pages this user may open (by role, or by a grant), in header order."""
    if user is None or user.role not in PAGE_ROLES:
        return []
    return [(label, path) for label, path, roles in NAV
            if user.role in roles or GRANTED.get(path, "") in user.grants]
