"""Every page of the web UI passes axe-core with no serious or critical violation (contrast under
4.5:1, a field without a label, a button without a name...), for an admin and for a marketer, at
1280 px and at tablet size (768x1024), over data like the demo's so that no list is empty.

The pages are the app's own: every GET route of a page handler is either in PAGES (with the path
that opens it over the data below, and the roles that may) or in NOT_PAGES (with why it is not a
page to check), and test_every_page_route_is_checked fails on a route that is in neither. Pages
are also checked as they are used (STATES: what a script adds, a form sent back with its mistakes,
each step of the campaign wizard), and the error pages. One server and one set of data serve the
whole module; each page is its own test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from engage.demo_answers import seed_answers
from engage.demo_loyalty import seed_programme
from engage.engine import campaigns
from engage.engine.analytics.effectiveness.refresh import refresh
from engage.engine.campaigns import lifecycle
from engage.engine.loyalty import adjustments, loads
from engage.engine.loyalty import exchange as loyalty_exchange
from engage.engine.loyalty import partners as loyalty_partners
from engage.engine.loyalty import programmes as loyalty_programmes
from engage.engine.segments import store as segments
from engage.engine.store.database import make_engine
from engage.engine.store.schema import Keyword, UssdMenu
from engage.engine.subscribers import import_jobs
from engage.engine.templates import store as templates
from engage.engine.users.roles import (
    ANALYTICS_READERS,
    INBOUND_READERS,
    LOYALTY_EDITORS,
    LOYALTY_READERS,
    PAGE_ROLES,
)
from engage.web.app import make_app
from engage.web.loyalty_adjustment_pages import ADJUSTMENT_VIEWERS
from engage.web.loyalty_load_pages import LOAD_VIEWERS
from engage.web.sessions_web import PageHandler
from tests.fixtures.axe import axe_violations, described
from tests.fixtures.browser import sign_in
from tests.fixtures.databases import migrated_sqlite_url
from tests.fixtures.web import TEST_SECRET, add_user, serving
from tests.subscriber_story import AZIZ, add_people, message_and_reply

EVERYONE = PAGE_ROLES
ADMIN = frozenset({"admin"})
SIZES = {"1280": {"width": 1280, "height": 900}, "tablet": {"width": 768, "height": 1024}}
PEOPLE = {"admin": "ada@example.com", "marketer": "mara@example.com"}

# route pattern (as Tornado compiles it) -> [(path over the data below, the roles that may open it), ...]
PAGES: dict[str, list[tuple[str, frozenset[str]]]] = {
    r"/login$": [("/login", frozenset({"visitor"})), ("/login?failed", frozenset({"visitor"}))],
    r"/dashboard$": [("/dashboard", EVERYONE)],
    r"/account$": [("/account", EVERYONE)],
    r"/users$": [("/users", ADMIN)],
    r"/audit$": [("/audit", ADMIN)],
    r"/inbound$": [("/inbound", INBOUND_READERS)],
    r"/keywords$": [("/keywords", EVERYONE)],
    r"/keywords/new$": [("/keywords/new", EVERYONE)],
    r"/keywords/(\d+)$": [("/keywords/{keyword}", EVERYONE)],
    r"/menus$": [("/menus", EVERYONE)],
    r"/menus/new$": [("/menus/new", EVERYONE)],
    r"/menus/phone$": [("/menus/phone", EVERYONE)],
    r"/menus/(\d+)$": [("/menus/{menu}", EVERYONE)],
    r"/providers$": [("/providers", EVERYONE)],
    r"/campaigns$": [("/campaigns", EVERYONE)],
    r"/campaigns/new$": [("/campaigns/new", EVERYONE)],
    r"/campaigns/(\d+)/edit$": [("/campaigns/{draft}/edit", EVERYONE)],
    r"/campaigns/(\d+)$": [("/campaigns/{sent}", EVERYONE), ("/campaigns/{draft}", EVERYONE),
                           ("/campaigns/{awaiting}", EVERYONE)],
    r"/approvals$": [("/approvals", EVERYONE)],
    r"/campaigns/(\d+)/effectiveness$": [("/campaigns/{sent}/effectiveness", ANALYTICS_READERS)],
    r"/analytics$": [("/analytics", ANALYTICS_READERS)],
    r"/analytics/compare(\.csv)?$": [("/analytics/compare?id={sent}", ANALYTICS_READERS)],
    r"/templates$": [("/templates", EVERYONE)],
    r"/templates/new$": [("/templates/new", EVERYONE)],
    r"/templates/(\d+)$": [("/templates/{template}", EVERYONE)],
    r"/segments$": [("/segments", EVERYONE)],
    r"/segments/new$": [("/segments/new", EVERYONE)],
    r"/segments/(\d+)$": [("/segments/{segment}", EVERYONE)],
    r"/subscribers$": [("/subscribers", EVERYONE), ("/subscribers?field=city&op=eq&value=Tashkent", EVERYONE)],
    r"/subscribers/import$": [("/subscribers/import", EVERYONE)],
    r"/subscribers/import/(\d+)$": [("/subscribers/import/{import}", EVERYONE)],
    r"/subscribers/(\d+)$": [("/subscribers/{subscriber}", EVERYONE)],
    r"/loyalty$": [("/loyalty", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/rules/new$": [("/loyalty/club/rules/new", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/rules/([a-z0-9_-]+)$": [("/loyalty/club/rules/recharge", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/member$": [("/loyalty/club/member?msisdn=%2B998901000001", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/reports$": [("/loyalty/club/reports", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/adjustments$": [("/loyalty/club/adjustments", ADJUSTMENT_VIEWERS)],
    r"/loyalty/([a-z0-9_-]+)/incidents$": [("/loyalty/club/incidents", LOYALTY_READERS)],
    r"/loyalty/new$": [("/loyalty/new", LOYALTY_EDITORS)],
    r"/loyalty/([a-z0-9_-]+)/settings$": [("/loyalty/club/settings", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/levels$": [("/loyalty/club/levels", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/rewards$": [("/loyalty/club/rewards", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/rewards/new$": [("/loyalty/club/rewards/new", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/rewards/([a-z0-9_-]+)$": [("/loyalty/club/rewards/cinema", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/partners$": [("/loyalty/club/partners", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/partners/(merchant|exchange)/([a-z0-9_-]+)$": [
        ("/loyalty/club/partners/merchant/cafe", LOYALTY_READERS),
        ("/loyalty/club/partners/exchange/airmiles", LOYALTY_READERS)],
    r"/loyalty/([a-z0-9_-]+)/loads$": [("/loyalty/club/loads", LOAD_VIEWERS)],
    r"/loyalty/([a-z0-9_-]+)/loads/(\d+)$": [("/loyalty/club/loads/{load}", LOAD_VIEWERS)],
}
NOT_PAGES = {
    r"/subscribers/import/(\d+)/rejected\.csv$": "a CSV download, not HTML",
    r"/campaigns/(\d+)/effectiveness/([a-z_]+)\.csv$": "a CSV download, not HTML",
    r"/loyalty/([a-z0-9_-]+)/loads/(\d+)/problems\.csv$": "a CSV download, not HTML",
    r"/loyalty/([a-z0-9_-]+)/reports\.csv$": "a CSV download, not HTML",
    r"/loyalty/([a-z0-9_-]+)/partners/(merchant|exchange)/([a-z0-9_-]+)/statement\.csv$": "a CSV download, not HTML",
}
# Known violations in pages other engineers own, until they fix them: (role, path) -> why.
# A fixed page makes its test fail (strict), and its line here goes.
KNOWN: dict[tuple[str, str], str] = {}


def page_routes() -> set[str]:
    """The patterns of every route whose handler is a page answering GET."""
    app = make_app(None, tokens="", secret=TEST_SECRET)  # type: ignore[arg-type] - routes only, no requests
    return {rule.matcher.regex.pattern for rule in app.wildcard_router.rules
            if isinstance(rule.target, type) and issubclass(rule.target, PageHandler)
            and any("get" in cls.__dict__ for cls in rule.target.__mro__ if cls.__module__.startswith("engage."))}


def visits() -> list[Any]:
    """One test per page and role that may open it; a known violation is expected to fail."""
    return [pytest.param(role, path, id=f"{role}-{path}",
                         marks=[pytest.mark.xfail(strict=True, reason=KNOWN[(role, path)])] if (role, path) in KNOWN
                         else [])
            for paths in PAGES.values() for path, roles in paths
            for role in ("visitor", "admin", "marketer") if role in roles]


def test_every_page_route_is_checked():
    routes = page_routes()
    assert sorted(routes - set(PAGES) - set(NOT_PAGES)) == [], "add these pages to PAGES (or NOT_PAGES, saying why)"
    assert sorted((set(PAGES) | set(NOT_PAGES)) - routes) == [], "these routes are gone: remove them"


# -- the data: what the demo has, and a campaign in each state a page shows differently -------------------------

def demo_data(engine: Engine, home: Path) -> dict[str, int]:
    """People in two branches, a campaign delivered to one who replied STOP, the demo's keyword JOIN and
    USSD menu, a draft, a campaign awaiting approval, a template with an A/B arm, a finished import."""
    people = add_people(engine)
    story = message_and_reply(engine, AZIZ)
    seed_programme(engine)  # the demo's loyalty club, its rules and rewards, everyone a member
    with engine.begin() as conn:  # a merchant and a programme exchanged with, for the partner pages
        club_id = loyalty_programmes.get(conn, "club").id
        loyalty_partners.add_partner(conn, club_id, "cafe", "Café Central", "0.1", "USD", "0.01")
        loyalty_exchange.add(conn, club_id, "airmiles", "Air Miles", rate_in="2", rate_out="0.5")
    with engine.begin() as conn:  # an adjustment posted at once, one waiting for a second person
        club = loyalty_programmes.get(conn, "club")
        member = adjustments.member_of(conn, club.id, "+998901000001")
        for points in (50, 5000):
            adjustments.request(conn, club, member, points, "goodwill after an outage", actor="mara@example.com")
        load = loads.read(conn, club, "gifts.csv", b"msisdn,points,reason,external_id\n+998901000001,100,Gift,g-1\n"
                          b"12,5,Gift,g-2\n", actor="mara@example.com", region="UZ")["load"]  # waiting, a row wrong
    seed_answers(engine)
    with engine.begin() as conn:
        template = templates.create(conn, "Spring bonus", {"en": "Hi {{ first_name }}, 500 points are yours!",
                                                          "ru": "Привет, {{ first_name }}! 500 баллов ваши!"},
                                    default_language="en", actor="mara@example.com",
                                    arms={"B": {"en": "{{ first_name }}: 500 points, this week only"}})
        segment = segments.create(conn, "Tashkent, not opted out",
                                  {"and": [{"field": "city", "value": "Tashkent"},
                                           {"kind": "opted_out", "channel": "sms", "value": False}]},
                                  actor="mara@example.com")
        draft = campaigns.create(conn, name="Spring bonus", segment_id=segment, template_id=template,
                                 sender_id="Shop", actor="mara@example.com")
        awaiting = campaigns.create(conn, name="Autumn bonus", segment_id=segment, template_id=template,
                                    sender_id="Shop", actor="mara@example.com")
        lifecycle.submit(conn, awaiting, actor="mara@example.com", role="marketer")
        keyword = conn.execute(select(Keyword.id).where(Keyword.word == "JOIN")).scalar_one()
        menu = conn.execute(select(UssdMenu.id)).scalars().first()
    csv = home / "people.csv"
    csv.write_text("msisdn,first_name,city\n+998901110001,Olim,Navoi\n12,Broken,Navoi\n")
    with engine.begin() as conn:
        job = import_jobs.create(conn, filename="people.csv", path=csv, actor="ada@example.com", branch=None)
    import_jobs.run(engine, job, "UZ")
    refresh(engine, story["campaign_id"])  # its effectiveness report has figures
    return {"sent": story["campaign_id"], "draft": draft, "awaiting": awaiting, "template": template,
            "segment": segment, "keyword": keyword, "menu": menu, "import": job, "subscriber": people[AZIZ],
            "load": load}


@pytest.fixture(scope="module")
def ui(chromium, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """One server over one database of demo-like data for the module, and each role's session cookies."""
    home = tmp_path_factory.mktemp("a11y")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENGAGE_HOME", str(home))
        engine = make_engine(migrated_sqlite_url(home / "engage.db"))
        ids = demo_data(engine, home)
        for role, email in PEOPLE.items():
            add_user(engine, email, role)
        with serving(engine) as base:
            cookies = {"visitor": []}
            for role, email in PEOPLE.items():
                context = chromium.new_context()
                sign_in(context.new_page(), base, email)
                cookies[role] = context.cookies()
                context.close()
            yield {"base": base, "ids": ids, "cookies": cookies}
        engine.dispose()


class Checks:
    """axe at both sizes, wherever a test stops to look; what broke is kept, to fail at the end with all of it.
    Both sizes in one visit (the page laid out again for the tablet, and checked again): half the page
    loads of a test per size, on machines where the browser tests take the longest."""

    def __init__(self, page: Any, role: str):
        self.page, self.role, self.broken = page, role, []

    def __call__(self, moment: str) -> None:
        for size, viewport in SIZES.items():
            self.page.set_viewport_size(viewport)
            found = axe_violations(self.page)
            if found:
                self.broken.append(described(found, f"{moment} for the {self.role} at {size}"))

    def verdict(self) -> None:
        if self.broken:
            pytest.fail("\n".join(self.broken), pytrace=False)


def opened(ui: dict[str, Any], page: Any, role: str, path: str) -> None:
    page.context.add_cookies(ui["cookies"][role])
    reply = page.goto(ui["base"] + path.format(**ui["ids"]), wait_until="networkidle")
    assert reply.status == 200, f"{path} answered {reply.status}"


@pytest.mark.parametrize(("role", "path"), visits())
def test_the_page_has_no_serious_accessibility_violation(ui, page, role, path):
    opened(ui, page, role, path)
    if path == "/login?failed":  # the form as it comes back with an error
        page.fill("input[name=email]", "nobody@example.com")
        page.fill("input[name=password]", "not the password")
        page.click("form.login button[type=submit]")
        page.locator(".error").first.wait_for()
    check = Checks(page, role)
    check(path)
    check.verdict()


# -- what pages become as they are used: what a script adds, a form sent back with its mistakes -----------------

def template_mistake_and_second_language(page: Any, check: Checks) -> None:
    page.locator("fieldset.variant textarea").first.fill("Hello\n{{ frist_name }}")
    page.locator("fieldset.variant .preview.error").first.wait_for()
    page.click("#add-variant")
    page.locator("fieldset.variant").nth(1).wait_for()
    check("the template editor showing a mistake, with a second language added")


def ussd_menu_sent_back(page: Any, check: Checks) -> None:
    page.fill("#menu-code", "*555#")
    page.fill("#document", "name: Broken\nscreens:\n  home:\n    type: menu\n    text: Hi\n    options:\n"
                           "      - label: On\n        next: nowhere\n")
    page.click("#save")
    page.locator("#menu-errors li").first.wait_for()
    check("the USSD editor listing a menu's errors")


def phone_in_a_call(page: Any, check: Checks) -> None:
    page.fill("#msisdn", AZIZ)
    page.fill("#dial", "*123#")
    page.click("#call")
    page.locator("#answer-form").wait_for()
    check("the phone emulator in a call")


def builder_with_two_criteria(page: Any, check: Checks) -> None:
    page.click(".add-criterion")
    page.locator(".criterion").nth(1).wait_for()
    check("the segment builder with a criterion added")


def wizard_step_by_step(page: Any, check: Checks) -> None:
    """Each step as it shows, the first also with its mistakes beside its fields."""
    page.click("#next")
    page.locator("fieldset[data-step='1'] [aria-invalid=true]").first.wait_for()
    check("the wizard's step 1 with its mistakes")
    page.fill("input[name=name]", "Weekend offer")
    page.locator("select[name=segment]").select_option(index=1)
    page.click("#next")
    page.locator("fieldset[data-step='2']").wait_for()
    check("the wizard's step 2")
    page.locator("select[name=template]").select_option(index=1)
    page.fill("input[name=sender]", "Shop")
    page.click("#next")
    page.locator("fieldset[data-step='3']").wait_for()
    check("the wizard's step 3")
    page.click("#next")
    page.locator("#review-step").wait_for()
    check("the wizard's review")


STATES = {
    "template-editor-in-use": ("marketer", "/templates/new", template_mistake_and_second_language),
    "ussd-editor-errors": ("marketer", "/menus/new", ussd_menu_sent_back),
    "phone-in-a-call": ("admin", "/menus/phone", phone_in_a_call),
    "segment-builder-in-use": ("marketer", "/segments/new", builder_with_two_criteria),
    "wizard-steps": ("marketer", "/campaigns/new", wizard_step_by_step),
}


@pytest.mark.parametrize("state", STATES)
def test_the_page_in_use_has_no_serious_accessibility_violation(ui, page, state):
    role, path, use = STATES[state]
    opened(ui, page, role, path)
    check = Checks(page, role)
    use(page, check)
    check.verdict()


@pytest.mark.parametrize("path", ["/users", "/campaigns/999999", "/no-such-page"], ids=["403", "404", "no-route"])
def test_an_error_page_has_no_serious_accessibility_violation(ui, page, path):
    page.context.add_cookies(ui["cookies"]["marketer"])
    reply = page.goto(ui["base"] + path)
    assert reply.status in (403, 404)
    check = Checks(page, "marketer")
    check(path)
    check.verdict()
