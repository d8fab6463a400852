"""Numbers, money and dates in a template are written the way the variant's language writes them,
in characters that keep a Latin text in GSM-7."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from engage.engine.templates.render import CompiledTemplate


def _render(body: str, language: str, **context) -> str:
    return CompiledTemplate(body, language).render(context).text


@pytest.mark.parametrize(("language", "expected"), [("en", "1,234,567.5"), ("ru", "1 234 567,5"),
                                                    ("uz", "1 234 567,5")])
def test_number_groups_digits_as_the_language_does(language, expected):
    assert _render("{{ balance | number }}", language, balance=Decimal("1234567.5")) == expected


def test_number_can_show_a_fixed_number_of_decimals():
    assert _render("{{ balance | number(2) }}", "ru", balance=Decimal("1500")) == "1 500,00"


def test_money_writes_the_currency_as_the_language_does():
    assert _render("{{ balance | money('UZS') }}", "ru", balance=Decimal("125000.5")) == "125 000,50 UZS"


def test_money_can_drop_the_fraction():
    assert _render("{{ balance | money('USD', 0) }}", "en", balance=Decimal("1999.6")) == "$2,000"


def test_money_in_uzbek_keeps_the_text_in_gsm7():
    out = CompiledTemplate("Balans: {{ balance | money('UZS') }}", "uz").render({"balance": Decimal("5000")})
    assert out.text == "Balans: 5 000,00 so'm"
    assert out.info.encoding == "gsm7"


def test_percent_is_written_as_the_language_does():
    assert _render("{{ attributes.share | percent }}", "ru", attributes={"share": 0.25}) == "25 %"


@pytest.mark.parametrize(("language", "expected"), [("en", "Mar 5, 2024"), ("ru", "5 мар. 2024 г.")])
def test_date_is_written_as_the_language_does(language, expected):
    assert _render("{{ birth_date | date }}", language, birth_date=date(2024, 3, 5)) == expected


def test_date_takes_a_style():
    assert _render("{{ birth_date | date('long') }}", "en", birth_date=date(2024, 3, 5)) == "March 5, 2024"


def test_date_reads_an_iso_text():
    assert _render("{{ attributes.expires | date }}", "en", attributes={"expires": "2024-03-05"}) == "Mar 5, 2024"


def test_date_of_a_time_is_the_day_in_the_subscribers_time_zone():
    out = _render("{{ last_activity_at | date }}", "en", last_activity_at=datetime(2024, 3, 5, 22, 30, tzinfo=UTC),
                  timezone="Asia/Tashkent")
    assert out == "Mar 6, 2024"


def test_datetime_is_shown_in_the_subscribers_time_zone():
    out = _render("{{ last_recharge_at | datetime('short') }}", "ru", last_recharge_at=datetime(2024, 3, 5, 9, 30),
                  timezone="Asia/Tashkent")
    assert out == "05.03.2024, 14:30"


def test_datetime_without_a_known_time_zone_is_shown_in_utc():
    out = _render("{{ last_recharge_at | datetime('short') }}", "ru", last_recharge_at=datetime(2024, 3, 5, 9, 30),
                  timezone="Mars/Olympus")
    assert out == "05.03.2024, 09:30"


def test_an_unknown_language_formats_as_english():
    assert _render("{{ balance | number }}", "xx", balance=1234.5) == "1,234.5"


def test_text_given_to_number_renders_unchanged():
    assert _render("{{ attributes.plan | number }}", "en", attributes={"plan": "gold"}) == "gold"


def test_a_malformed_date_renders_unchanged():
    assert _render("{{ attributes.expires | date }}", "en", attributes={"expires": "soon"}) == "soon"


def test_a_missing_value_still_falls_back_after_formatting():
    assert _render("{{ balance | number | default('n/a') }}", "en", balance=None) == "n/a"
