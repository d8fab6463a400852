"""Who may do what. A user has one role, and may hold grants beyond it (engine.users.grants: one
named right an admin gives a person without changing their role); the web layer asks these sets
and functions, never role names ad hoc.
The same sets decide for a signed-in session and for an API token of that user
(engine.users.api_tokens): a token never has more rights than its owner has in the browser.

- admin: everything, users included
- marketer: audiences, templates, campaigns (drafts, submitting)
- approver: approves or rejects what marketers submit
- analyst: reads campaigns, counts and reports
- support: reads campaigns and a subscriber's history, to answer customers
- partner: an integration's account: the API only, never the pages. It feeds and reads, it never
  moves a campaign: it upserts subscribers (a CRM or billing sync), counts segments and lists the
  saved ones and the criterion kinds (to size an audience), and reads campaigns, their live figures
  and templates (to report on them). It cannot save segments, make, submit, approve or launch
  campaigns, or change templates; a partner bound to a branch does all of this in that branch only.
"""

from __future__ import annotations

from typing import Protocol

ROLES = ("admin", "marketer", "approver", "analyst", "support", "partner")

# the server-rendered pages: every role but partner
PAGE_ROLES = frozenset(ROLES) - {"partner"}
# reading campaigns, their figures and templates (/api/v1/campaigns, /api/v1/templates); pages ask PAGE_ROLES
CAMPAIGN_READERS = PAGE_ROLES | {"partner"}
# counting segments, listing saved segments and criterion kinds
AUDIENCE_READERS = frozenset({"admin", "marketer", "approver", "analyst", "partner"})
# saving segments
AUDIENCE_WRITERS = frozenset({"admin", "marketer"})
# writing subscriber data through the API (with a session, or an admin's or partner's token)
SUBSCRIBER_WRITERS = frozenset({"admin", "partner"})


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

# finding subscribers, reading a profile and its history (pages and /api/v1/subscribers); approvers
# and partners have no need to look people up
SUBSCRIBER_READERS = frozenset({"admin", "marketer", "analyst", "support"})
# seeing whole phone numbers (support answers the phone, admin runs the system); every other role gets
# them masked (+99890*****67) by the server, in pages and JSON alike, and may find a number only whole
NUMBER_READERS = frozenset({"admin", "support"})
# reading what subscribers texted (the inbound messages page): support answers them, admin runs the system
INBOUND_READERS = frozenset({"admin", "support"})
# what subscribers may text (the keywords page): support reads it to answer them; admin and marketer edit it
KEYWORD_READERS = frozenset({"admin", "marketer", "support"})
KEYWORD_EDITORS = frozenset({"admin", "marketer"})
# importing subscriber files from the browser (integrations use /api/v1 with a token)
SUBSCRIBER_IMPORTERS = frozenset({"admin", "marketer"})

# reading providers (health, throughput) and the prices in force: the people who plan, approve and
# report on what sending costs; support and partners have no need of them
PROVIDER_READERS = frozenset({"admin", "marketer", "approver", "analyst"})
# adding, changing, enabling and disabling providers, importing price tables: their settings hold
# the operator's credentials and decide where every message goes
PROVIDER_ADMINS = frozenset({"admin"})

# USSD menus (the /menus pages: list, tree, drop-off funnel): support reads them to answer subscribers, analysts
# read their funnels; admin and marketer (of no branch: menus serve the whole operator) edit them and walk them
# in the phone emulator, whose actions act for real on the dialled number's subscriber
USSD_READERS = frozenset({"admin", "marketer", "support", "analyst"})
USSD_EDITORS = frozenset({"admin", "marketer"})

# a campaign's effectiveness reports (conversion, uplift against the control group, cost per response) and the
# Parquet exports for BI: the financial and analytical units' figures. Marketers read delivery figures on the
# campaign pages, not these, unless an admin gives one the "analytics" grant (engine.users.grants)
ANALYTICS_READERS = frozenset({"admin", "analyst"})
ANALYTICS_GRANT = "analytics"

# the loyalty back office (/loyalty): support looks a member's ledger up to answer them, analysts read the
# programme's figures; admin and marketer (of no branch: a programme serves the whole operator) edit its rules
LOYALTY_READERS = frozenset({"admin", "marketer", "support", "analyst"})
LOYALTY_EDITORS = frozenset({"admin", "marketer"})
# adding a merchant partner or replacing its token: the token lets a merchant's till post and spend points
LOYALTY_PARTNER_ADMINS = frozenset({"admin"})
# a member's points corrected by hand, with a reason (a branch's users only for their branch's members);
# above the programme's threshold a second person, an approver, posts or rejects the correction
LOYALTY_ADJUSTERS = frozenset({"admin", "marketer", "support"})
LOYALTY_APPROVERS = frozenset({"admin", "approver"})


class Grantee(Protocol):
    """Who a right is asked about: a role, and the grants an admin gave beyond it (users.Account)."""

    @property
    def role(self) -> str: ...

    @property
    def grants(self) -> frozenset[str]: ...


def may_read_analytics(who: str | Grantee) -> bool:
    """A role alone (what every user of it may), or a user: by their role, or by the analytics grant. A
    user's grants are read from the database at each request, so a grant withdrawn holds at the next."""
    if isinstance(who, str):
        return who in ANALYTICS_READERS
    return who.role in ANALYTICS_READERS or ANALYTICS_GRANT in who.grants
