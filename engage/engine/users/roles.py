"""Who may do what. A user has one role; the web layer asks these sets, never role names ad hoc.

- admin: everything, users included
- marketer: audiences, templates, campaigns (drafts, submitting)
- approver: approves or rejects what marketers submit
- analyst: reads campaigns, counts and reports
- support: reads campaigns and a subscriber's history, to answer customers
- partner: an integration's account: the API only, never the pages
"""

from __future__ import annotations

ROLES = ("admin", "marketer", "approver", "analyst", "support", "partner")

# the server-rendered pages: every role but partner
PAGE_ROLES = frozenset(ROLES) - {"partner"}
# reading campaigns and their counts (pages and /api/v1/campaigns)
CAMPAIGN_READERS = PAGE_ROLES
# counting segments, listing saved segments and criterion kinds
AUDIENCE_READERS = frozenset({"admin", "marketer", "approver", "analyst"})
# saving segments
AUDIENCE_WRITERS = frozenset({"admin", "marketer"})
# writing subscriber data through the API with a session (integrations use tokens)
SUBSCRIBER_WRITERS = frozenset({"admin"})


def is_role(role: str) -> bool:
    return role in ROLES


def may_use_pages(role: str) -> bool:
    return role in PAGE_ROLES

# who may move campaigns: make and submit them; approve or reject others'; pause, resume, cancel
CAMPAIGN_MAKERS = frozenset({"admin", "marketer"})
CAMPAIGN_APPROVERS = frozenset({"admin", "approver"})
CAMPAIGN_OPERATORS = frozenset({"admin", "marketer", "approver"})
CAMPAIGN_ACTION_ROLES = {"submit": CAMPAIGN_MAKERS, "launch": CAMPAIGN_MAKERS, "approve": CAMPAIGN_APPROVERS,
                         "reject": CAMPAIGN_APPROVERS, "pause": CAMPAIGN_OPERATORS, "resume": CAMPAIGN_OPERATORS,
                         "cancel": CAMPAIGN_OPERATORS}
