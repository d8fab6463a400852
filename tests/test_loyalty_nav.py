"""A programme's sub-navigation offers each user the pages they may open, and no page that would
answer them 403: an approver gets the adjustments and point loads they decide, a user of a branch
no point loads, an analyst no adjustments."""

from __future__ import annotations

import re

import pytest

from engage.engine.loyalty import programmes
from tests.fixtures.web import serving, signed_in


@pytest.fixture
def web(engine, quick_hashes):  # noqa: ANN001, ANN201
    with engine.begin() as conn:
        programmes.create(conn, "club", "Club")
    with serving(engine) as base:
        yield engine, base


def offered(web, role: str, path: str, branch: str | None = None) -> list[str]:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, role, branch=branch).get(path)
    assert page.status == 200
    nav = re.search(r'<nav class="subnav" id="programme-nav".*?</nav>', page.body, re.S).group(0)
    return re.findall(r">([^<>]+)</a>", nav)


def test_an_approver_is_offered_only_the_pages_they_decide_on(web) -> None:  # noqa: ANN001
    assert offered(web, "approver", "/loyalty/club/loads") == ["Adjustments", "Point loads"]


def test_a_marketer_of_no_branch_is_offered_every_page(web) -> None:  # noqa: ANN001
    assert offered(web, "marketer", "/loyalty") == ["Overview", "Settings", "Levels", "Rewards", "Partners",
                                                    "Reports", "Adjustments", "Point loads", "Incidents"]


def test_a_user_of_a_branch_is_not_offered_the_point_loads(web) -> None:  # noqa: ANN001
    assert "Point loads" not in offered(web, "marketer", "/loyalty", branch="north")


def test_an_analyst_is_not_offered_the_adjustments(web) -> None:  # noqa: ANN001
    assert "Adjustments" not in offered(web, "analyst", "/loyalty/club/incidents")


def test_every_offered_link_opens(web) -> None:  # noqa: ANN001
    engine, base = web
    for role in ("admin", "marketer", "support", "analyst", "approver"):
        browser = signed_in(engine, base, role)
        page = browser.get("/loyalty/club/loads")
        for href in re.findall(r'<nav class="subnav"[^>]*>.*?</nav>', page.body, re.S)[0].split('href="')[1:]:
            assert browser.get(href.split('"')[0].replace("&amp;", "&")).status == 200, (role, href)
