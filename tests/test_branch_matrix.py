"""Branch scoping, one matrix over every route of the app and every role. The routes are read from
the Tornado application itself, and ROUTES below classifies each: an object-addressed route of a
branch-scoped kind (with the methods and bodies to try), or why it is not one. A new route, or a
new method on an object route, fails test_every_route_and_method_is_classified until it is
classified here, so branch scoping is decided for it, not forgotten.

For every object route, method and role, a user of branch north asking about a south object gets
404 (it is not there for them: the same answer as a missing id) and the object is unchanged; the
same request on a north object is not a 404 (a role that may not do it at all gets its 403 on both).
API routes are asked with each role's own API token, pages with each role's signed-in session."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from engage.engine import campaigns
from engage.engine.segments import store as segments
from engage.engine.store.schema import Campaign, ImportJob, Segment, Subscriber, Template, TemplateVariant
from engage.engine.subscribers import import_jobs
from engage.engine.templates import store as templates
from engage.engine.users.roles import PAGE_ROLES, ROLES
from engage.web.app import make_app
from tests.branch_people import token_for
from tests.fixtures.web import TEST_SECRET, Browser, serving, signed_in

ACTIONS = ("submit", "approve", "reject", "launch", "pause", "resume", "cancel")
PAGE_ACTIONS = ("submit", "approve", "reject", "pause", "resume", "cancel")
GLOBAL = "global"  # not an object of a branch: a list or a create scoped by the caller's branch, admin-only, public

# pattern (as Tornado compiles it) -> (kind, {method: body}) for an object route, else (GLOBAL, why)
ROUTES: dict[str, tuple[str, Any]] = {
    r"/(robots\.txt)$": (GLOBAL, "static file"),
    r"/(favicon\.ico)$": (GLOBAL, "static file"),
    r"/static/(.*)$": (GLOBAL, "static files"),
    r"/$": (GLOBAL, "redirect to the dashboard"),
    r"/dashboard$": (GLOBAL, "figures of the caller's branch"),
    r"/users$": (GLOBAL, "admin only"),
    r"/audit$": (GLOBAL, "admin only"),
    r"/account$": (GLOBAL, "the caller's own settings"),
    r"/providers$": (GLOBAL, "providers serve every branch"),
    r"/providers/new$": (GLOBAL, "providers serve every branch; only an admin of no branch adds one"),
    r"/login$": (GLOBAL, "public"),
    r"/logout$": (GLOBAL, "the caller's own session"),
    r"/campaigns$": (GLOBAL, "list of the caller's branch"),
    r"/campaigns/new$": (GLOBAL, "create in the caller's branch"),
    r"/campaigns/check$": (GLOBAL, "checks a form in the caller's branch; saves nothing"),
    r"/campaigns/(\d+)/edit$": ("campaign", {"GET": None, "POST": {"name": "renamed"}}),
    r"/campaigns/(\d+)/delete$": ("campaign", {"POST": {}}),
    r"/campaigns/(\d+)/test$": ("campaign", {"POST": {"numbers": "+998901234567"}}),
    r"/campaigns/(\d+)/live$": (GLOBAL, "websocket: closed for another branch's campaign (test_campaign_progress)"),
    r"/campaigns/(\d+)$": ("campaign", {"GET": None}),
    r"/campaigns/(\d+)/(submit|approve|reject|pause|resume|cancel)$": ("campaign", {"POST": {"reason": "no"}}),
    r"/approvals$": (GLOBAL, "list of the caller's branch"),
    r"/campaigns/(\d+)/effectiveness$": ("campaign", {"GET": None, "POST": {"do": "refresh"}}),
    r"/campaigns/(\d+)/effectiveness/([a-z_]+)\.csv$": (GLOBAL, "one table of the report above, whose campaign is "
                                                           "looked up the same way (test_effectiveness_pages)"),
    r"/analytics$": (GLOBAL, "campaigns of the caller's branch"),
    r"/analytics/compare(\.csv)?$": (GLOBAL, "campaigns of the caller's branch; others' ids are left out "
                                            "(test_effectiveness_pages)"),
    r"/templates$": (GLOBAL, "list of the caller's branch and the shared ones"),
    r"/templates/new$": (GLOBAL, "create in the caller's branch"),
    r"/templates/(\d+)$": ("template", {"GET": None, "POST": {"name": "renamed", "default_language": "en",
                                                              "body.en.A": "Hi"}}),
    r"/templates/(\d+)/delete$": ("template", {"POST": {}}),
    r"/api/v1/templates/preview$": (GLOBAL, "renders a text given in the request"),
    r"/segments$": (GLOBAL, "list of the caller's branch and the shared ones"),
    r"/segments/new$": (GLOBAL, "the builder, empty"),
    r"/segments/(\d+)$": ("segment", {"GET": None}),
    r"/subscribers$": (GLOBAL, "search within the caller's branch"),
    r"/subscribers/import$": (GLOBAL, "an import into the caller's branch"),
    r"/subscribers/import/(\d+)$": ("import", {"GET": None}),
    r"/subscribers/import/(\d+)/rejected\.csv$": ("import", {"GET": None}),
    r"/subscribers/(\d+)$": ("subscriber", {"GET": None}),
    r"/inbound$": (GLOBAL, "what the caller's branch's subscribers texted (test_inbound_page)"),
    r"/keywords$": (GLOBAL, "the operator's keywords: read by every branch (test_keyword_pages)"),
    r"/keywords/new$": (GLOBAL, "only a user of no branch creates one (test_keyword_pages)"),
    r"/keywords/(\d+)$": (GLOBAL, "the operator's keywords: only a user of no branch edits (test_keyword_pages)"),
    r"/keywords/(\d+)/delete$": (GLOBAL, "only a user of no branch deletes (test_keyword_pages)"),
    r"/loyalty$": (GLOBAL, "the operator's loyalty programmes: read by every branch (test_loyalty_pages)"),
    r"/loyalty/([a-z0-9_-]+)/rules/new$": (GLOBAL, "only a user of no branch creates a rule (test_loyalty_pages)"),
    r"/loyalty/([a-z0-9_-]+)/rules/([a-z0-9_-]+)$": (GLOBAL, "the operator's rules: only a user of no branch "
                                                             "changes one (test_loyalty_pages)"),
    r"/loyalty/([a-z0-9_-]+)/member$": (GLOBAL, "a lookup by number within the caller's branch: another "
                                                "branch's subscriber is not found (test_loyalty_pages)"),
    r"/loyalty/([a-z0-9_-]+)/reports$": (GLOBAL, "the programme's reports: operator-wide figures read by every branch, "
                                                 "said so on the page (test_loyalty_report_pages)"),
    r"/loyalty/([a-z0-9_-]+)/reports\.csv$": (GLOBAL, "a table of the reports above, as CSV "
                                                      "(test_loyalty_report_pages)"),
    r"/loyalty/([a-z0-9_-]+)/adjustments$": (GLOBAL, "adjustments of the caller's branch's members only "
                                                     "(test_loyalty_adjustment_pages)"),
    r"/loyalty/([a-z0-9_-]+)/adjustments/new$": (GLOBAL, "a member found by number within the caller's branch: "
                                                         "another branch's is not found "
                                                         "(test_loyalty_adjustment_pages)"),
    r"/loyalty/([a-z0-9_-]+)/adjustments/(\d+)/(approve|reject)$": (
        GLOBAL, "an adjustment of another branch's member is a 404 and stays as it was "
                "(test_loyalty_adjustment_pages)"),
    r"/loyalty/([a-z0-9_-]+)/incidents$": (GLOBAL, "redemptions of the caller's branch's members only "
                                                   "(test_loyalty_incidents)"),
    r"/loyalty/([a-z0-9_-]+)/loads$": (GLOBAL, "a load gives points to members of every branch: users of a branch "
                                               "get 403 (test_loyalty_load_pages)"),
    r"/loyalty/([a-z0-9_-]+)/loads/(\d+)$": (GLOBAL, "a load of the whole operator: users of a branch get 403 "
                                                    "(test_loyalty_load_pages)"),
    r"/loyalty/([a-z0-9_-]+)/loads/(\d+)/problems\.csv$": (GLOBAL, "a load's report: users of a branch get 403 "
                                                                   "(test_loyalty_load_pages)"),
    r"/loyalty/new$": (GLOBAL, "a programme is the whole operator's: only a user of no branch creates one "
                               "(test_loyalty_settings_pages)"),
    r"/loyalty/([a-z0-9_-]+)/settings$": (GLOBAL, "read by every branch, changed only by a user of no branch "
                                                  "(test_loyalty_settings_pages)"),
    r"/loyalty/([a-z0-9_-]+)/levels$": (GLOBAL, "the programme's levels: read by every branch, changed only by a user "
                                                "of no branch (test_loyalty_level_pages)"),
    r"/loyalty/([a-z0-9_-]+)/rewards$": (GLOBAL, "the programme's catalogue: read by every branch "
                                                 "(test_loyalty_catalogue_pages)"),
    r"/loyalty/([a-z0-9_-]+)/rewards/new$": (GLOBAL, "only a user of no branch adds a reward "
                                                     "(test_loyalty_catalogue_pages)"),
    r"/loyalty/([a-z0-9_-]+)/rewards/([a-z0-9_-]+)$": (GLOBAL, "a reward of the whole operator: only a user of no "
                                                               "branch changes it (test_loyalty_catalogue_pages)"),
    r"/loyalty/([a-z0-9_-]+)/partners$": (GLOBAL, "the programme's partners: only a user of no branch adds one "
                                                  "(test_loyalty_partner_pages)"),
    r"/loyalty/([a-z0-9_-]+)/partners/(merchant|exchange)/([a-z0-9_-]+)$": (
        GLOBAL, "a partner of the whole operator and its statement; only an admin of no branch replaces its token "
                "(test_loyalty_partner_pages)"),
    r"/loyalty/([a-z0-9_-]+)/partners/(merchant|exchange)/([a-z0-9_-]+)/statement\.csv$": (
        GLOBAL, "the statement above as CSV (test_loyalty_partner_pages)"),
    r"/menus$": (GLOBAL, "the operator's USSD menus: read by every branch (test_ussd_menu_pages)"),
    r"/menus/new$": (GLOBAL, "only a user of no branch creates a USSD menu (test_ussd_menu_pages)"),
    r"/menus/(\d+)$": (GLOBAL, "the operator's USSD menus: only a user of no branch edits (test_ussd_menu_pages)"),
    r"/menus/(\d+)/switch$": (GLOBAL, "only a user of no branch switches a USSD menu on or off (test_ussd_menu_pages)"),
    r"/menus/phone$": (GLOBAL, "the phone emulator: only a user of no branch (test_ussd_menu_pages)"),
    r"/api/v1/ussd/try$": (GLOBAL, "the emulator's hops: only a user of no branch; sessions are the caller's own "
                                   "(test_ussd_menu_pages)"),
    r"/api/v1/campaigns$": (GLOBAL, "list and create in the caller's branch"),
    r"/api/v1/campaigns/(\d+)$": ("campaign", {"GET": None, "PUT": {"name": "renamed"}, "DELETE": None}),
    r"/api/v1/campaigns/(\d+)/stats$": ("campaign", {"GET": None}),
    r"/api/v1/campaigns/(\d+)/estimate$": ("campaign", {"GET": None}),
    r"/api/v1/campaigns/(\d+)/(submit|approve|reject|launch|pause|resume|cancel)$": (
        "campaign", {"POST": {"reason": "no"}}),
    r"/api/v1/templates$": (GLOBAL, "list and create in the caller's branch"),
    r"/api/v1/templates/(\d+)$": ("template", {"GET": None, "PUT": {"variants": {"en": "Hi"}}, "DELETE": None}),
    r"/api/v1/openapi.json$": (GLOBAL, "the API's description"),
    r"/api/v1/segments/count$": (GLOBAL, "counts within the caller's branch"),
    r"/api/v1/segments/kinds$": (GLOBAL, "the criterion kinds"),
    r"/api/v1/segments$": (GLOBAL, "list and create in the caller's branch"),
    r"/api/v1/segments/(\d+)$": ("segment", {"GET": None, "PUT": {"name": "renamed"}, "DELETE": None}),
    r"/api/v1/segments/(\d+)/duplicate$": ("segment", {"POST": {}}),
    r"/api/v1/loyalty/members$": (GLOBAL, "enrols and reads the caller's branch's subscribers only "
                                          "(test_loyalty_members_api)"),
    r"/api/v1/subscribers$": (GLOBAL, "search and upsert within the caller's branch (test_subscriber_upsert_branches)"),
    r"/api/v1/subscribers/(\d+)$": ("subscriber", {"GET": None}),
    r"/api/v1/imports$": (GLOBAL, "an import into the caller's branch"),
    r"/api/v1/imports/(\d+)$": ("import", {"GET": None}),
    r"/api/v1/imports/(\d+)/rejected\.csv$": ("import", {"GET": None}),
    r"/api/v1/providers$": (GLOBAL, "providers serve every branch; admins change them"),
    r"/api/v1/providers/(\d+)$": (GLOBAL, "providers serve every branch; admins change them"),
    r"/api/v1/providers/(\d+)/(disable|enable)$": (GLOBAL, "providers serve every branch; admins change them"),
    r"/api/v1/routes$": (GLOBAL, "prices serve every branch"),
    r"/api/v1/routes/import$": (GLOBAL, "prices serve every branch; admins import them"),
    r"/api/v1/loyalty/(earn|burn|consent|balance|reversal)$": (GLOBAL, "a loyalty partner's own transactions in its "
                                                                   "programme, authenticated by the partner's token; "
                                                                   "no user or branch (test_loyalty_partners)"),
    r"/metrics$": (GLOBAL, "operators' metrics, no subscriber data"),
    r"/callbacks/(\w+)/(\d+)$": (GLOBAL, "a provider's receipts, authenticated by the provider's secret"),
    r"/callbacks/(\w+)/(\d+)/mo$": (GLOBAL, "subscribers' MOs from a gateway, authenticated by the provider's secret"),
    r"/ussd/([A-Za-z0-9][A-Za-z0-9_.-]{0,99})$": (GLOBAL, "USSD hops from an aggregator, authenticated by the gateway's"
                                                  " token"),
}


def _rules() -> dict[str, type]:
    app = make_app(None, tokens="", secret=TEST_SECRET)  # type: ignore[arg-type] - routes only, no requests
    return {rule.matcher.regex.pattern: rule.target for rule in app.wildcard_router.rules}


def _methods(handler: Any) -> set[str]:
    """The HTTP methods the handler's own classes (engage's, not Tornado's) answer."""
    if not isinstance(handler, type):
        return set()
    return {m.upper() for cls in handler.__mro__ if cls.__module__.startswith("engage.")
            for m in ("get", "post", "put", "delete", "patch") if m in cls.__dict__}


def test_every_route_and_method_is_classified():
    rules = _rules()
    assert sorted(set(rules) - set(ROUTES)) == [], "classify these routes in ROUTES"
    assert sorted(set(ROUTES) - set(rules)) == [], "these routes are gone: remove them from ROUTES"
    unlisted = {pattern: sorted(_methods(rules[pattern]) - set(spec)) for pattern, (kind, spec) in ROUTES.items()
                if kind != GLOBAL and _methods(rules[pattern]) - set(spec)}
    assert unlisted == {}, "these methods of object routes are not in the matrix"


# -- the objects: one of each kind per branch, made fresh for every request -------------------------------------

def _template(conn, branch: str) -> int:
    return templates.create(conn, f"t {branch} {_serial()}", {"en": "Hi {{ first_name }}"}, default_language="en",
                            actor="t", branch=branch)


def _segment(conn, branch: str) -> int:
    return segments.create(conn, f"s {branch} {_serial()}", {"kind": "all"}, actor="t", branch=branch)


def _campaign(conn, branch: str) -> int:
    return campaigns.create(conn, name=f"c {branch}", segment_id=_segment(conn, branch),
                            template_id=_template(conn, branch), sender_id="Shop", actor="maker", branch=branch)


def _subscriber(conn, branch: str) -> int:
    return conn.execute(insert(Subscriber.__table__).values(
        msisdn=f"+99890{_serial():07d}", first_name="N", branch=branch, attributes={})).inserted_primary_key[0]


def _import(conn, branch: str, tmp: Path) -> int:
    report = tmp / f"rejected-{_serial()}.csv"
    report.write_text("line,reason\n2,msisdn: missing\n", encoding="utf-8")
    job_id = import_jobs.create(conn, filename="people.csv", path=tmp / "people.csv", actor="t", branch=branch)
    conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(
        status=import_jobs.DONE, report_path=str(report), rows_read=2, total_rows=2, rows_rejected=1))
    return job_id


_count = [0]


def _serial() -> int:
    _count[0] += 1
    return _count[0]


MAKERS: dict[str, Callable[..., int]] = {"template": _template, "segment": _segment, "campaign": _campaign,
                                         "subscriber": _subscriber, "import": _import}
TABLES = {"template": Template, "segment": Segment, "campaign": Campaign, "subscriber": Subscriber,
          "import": ImportJob}


def _make(engine: Engine, kind: str, branch: str, tmp: Path) -> int:
    with engine.begin() as conn:
        return MAKERS[kind](conn, branch, tmp) if kind == "import" else MAKERS[kind](conn, branch)


def _state(engine: Engine, kind: str, object_id: int) -> Any:
    """Everything stored about the object, to see that a refused request changed nothing."""
    table = TABLES[kind]
    with engine.connect() as conn:
        row = conn.execute(select(table.__table__).where(table.id == object_id)).first()
        variants = conn.execute(select(TemplateVariant.body).where(TemplateVariant.template_id == object_id)
                                ).scalars().all() if kind == "template" else None
    return (None if row is None else tuple(row), variants)


# -- the requests -------------------------------------------------------------------------------------------------

def _paths(pattern: str, object_id: int) -> list[str]:
    """The route's paths for this object: one per choice of a second group (an action)."""
    path = pattern.rstrip("$").replace(r"\.", ".")
    path = path.replace(r"(\d+)", str(object_id), 1)
    choice = re.search(r"\(([a-z|]+)\)", path)
    if choice is None:
        return [path]
    return [path[:choice.start()] + option + path[choice.end():] for option in choice.group(1).split("|")]


def _api(base: str, token: str, method: str, path: str, body: Any) -> int:
    data = json.dumps(body or {}).encode() if method in ("POST", "PUT") else None
    request = urllib.request.Request(base + path, data=data, method=method, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _page(browser: Browser, method: str, path: str, body: Any) -> int:
    if method == "GET":
        return browser.get(path).status
    fields = {"_xsrf": browser.cookie("_xsrf") or browser.xsrf(), **(body or {})}
    return browser.request(method, path, urllib.parse.urlencode(fields).encode(),
                           {"Content-Type": "application/x-www-form-urlencoded"}).status


OBJECT_ROUTES = [(pattern, method) for pattern, (kind, spec) in ROUTES.items() if kind != GLOBAL
                 for method in spec]


@pytest.mark.parametrize(("pattern", "method"), OBJECT_ROUTES, ids=[f"{m} {p}" for p, m in OBJECT_ROUTES])
def test_another_branchs_object_is_not_found_and_the_own_branchs_is(engine, tmp_path, quick_hashes, pattern,
                                                                     method):
    kind, spec = ROUTES[pattern]
    body = spec[method]
    api = pattern.startswith("/api/")
    with serving(engine) as base:
        callers: dict[str, Callable[[str, str], int]] = {}
        for role in ROLES if api else sorted(PAGE_ROLES):
            if api:
                token = token_for(engine, role, "north")
                callers[role] = lambda path, m, token=token: _api(base, token, m, path, body)
            else:
                browser = signed_in(engine, base, role, branch="north")
                callers[role] = lambda path, m, browser=browser: _page(browser, m, path, body)
        failures = []
        for role, call in callers.items():
            for index in range(len(_paths(pattern, 0))):
                south, north = _make(engine, kind, "south", tmp_path), _make(engine, kind, "north", tmp_path)
                before = _state(engine, kind, south)
                theirs = call(_paths(pattern, south)[index], method)
                ours = call(_paths(pattern, north)[index], method)
                path = _paths(pattern, south)[index]
                if ours >= 500 or theirs >= 500:
                    failures.append(f"{role} {method} {path}: {theirs} for south's, {ours} for north's")
                elif ours == 403:
                    if theirs not in (403, 404):
                        failures.append(f"{role} {method} {path}: south's {theirs}, north's 403")
                elif theirs != 404 or ours == 404:
                    failures.append(f"{role} {method} {path}: south's {theirs} (not 404), north's {ours}")
                if _state(engine, kind, south) != before:
                    failures.append(f"{role} {method} {path}: changed south's {kind}")
    assert failures == []
