"""Text meant to be read (muted notes included) keeps WCAG AA contrast, 4.5:1, on the page's
backgrounds: computed from the stylesheet the pages load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).parent.parent / "engage" / "web" / "static" / "engage.css").read_text()
AA = 4.5


def _colour(selector: str, prop: str = "color") -> str:
    rule = re.search(rf"(?:^|}}){re.escape(selector)}{{([^}}]*)}}", CSS, re.M)
    assert rule, f"no rule for {selector}"
    return re.search(rf"(?:^|;){prop}:(#[0-9a-fA-F]{{6}})", rule.group(1)).group(1)


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("background", [_colour("body", "background"), "#ffffff"], ids=["page", "table"])
def test_muted_text_is_readable_on_the_page_and_in_tables(background):
    assert contrast(_colour(".muted"), background) >= AA


def test_body_text_is_readable_on_the_page():
    assert contrast(_colour("body"), _colour("body", "background")) >= AA
