"""The header's links: each page once, shown to the roles its handler lets in (the handler still
checks; a hidden link is only so that nobody is offered a page that answers 403)."""

from __future__ import annotations

from engage.engine.users.roles import (
    ANALYTICS_READERS,
    AUDIENCE_READERS,
    CAMPAIGN_APPROVERS,
    CAMPAIGN_MAKERS,
    INBOUND_READERS,
    KEYWORD_READERS,
    PAGE_ROLES,
    PROVIDER_READERS,
    SUBSCRIBER_READERS,
    USSD_READERS,
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
    ("Approvals", "/approvals", CAMPAIGN_APPROVERS | CAMPAIGN_MAKERS),
    ("Providers", "/providers", PROVIDER_READERS),
    ("Users", "/users", frozenset({"admin"})),
    ("Audit", "/audit", frozenset({"admin"})),
)


def links(role: str | None) -> list[tuple[str, str]]:
    """(label, path) of the pages this role may open, in header order."""
    return [(label, path) for label, path, roles in NAV if role in roles and role in PAGE_ROLES]
