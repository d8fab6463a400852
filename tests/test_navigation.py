"""The header offers each role the pages it may open, and every offered page opens for it."""

from __future__ import annotations

import re

import pytest

from engage.engine.users.roles import PAGE_ROLES
from tests.fixtures.web import signed_in


def header_links(html: str) -> list[str]:
    nav = re.search(r"<nav>(.*?)</nav>", html, re.S).group(1)
    return re.findall(r'href="([^"]+)"', nav)


@pytest.mark.parametrize("role", sorted(PAGE_ROLES))
def test_every_link_in_the_header_opens_for_the_role_it_is_shown_to(site, quick_hashes, role):
    engine, base = site
    browser = signed_in(engine, base, role)
    links = header_links(browser.get("/dashboard").body)
    assert "/dashboard" in links
    for path in links:
        assert browser.get(path).status == 200, path


def test_support_staff_are_offered_subscribers_but_not_segments_or_approvals(site, quick_hashes):
    engine, base = site
    links = header_links(signed_in(engine, base, "support").get("/dashboard").body)
    assert "/subscribers" in links
    assert "/segments" not in links and "/approvals" not in links and "/users" not in links


def test_only_admins_are_offered_users_and_the_audit_log(site, quick_hashes):
    engine, base = site
    assert {"/users", "/audit"} <= set(header_links(signed_in(engine, base, "admin").get("/dashboard").body))
    assert not {"/users", "/audit"} & set(header_links(signed_in(engine, base, "marketer").get("/dashboard").body))


def current(html: str) -> list[str]:
    nav = re.search(r"<nav>(.*?)</nav>", html, re.S).group(1)
    return re.findall(r'href="([^"]+)" aria-current="page"', nav)


def test_the_header_marks_the_page_you_are_on_and_the_section_a_page_belongs_to(site, quick_hashes):
    engine, base = site
    browser = signed_in(engine, base, "marketer")
    assert current(browser.get("/campaigns").body) == ["/campaigns"]
    assert current(browser.get("/campaigns/new").body) == ["/campaigns"]
    assert current(browser.get("/keywords").body) == ["/keywords"]
