"""What each input validator accepts, what it keeps, and what it says when it refuses; and that a
validator's refusal reaches the subscriber in their language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engage.engine.ussd.validators import VALIDATORS, Invalid, Reading

EN = Reading("en", "UZ")


def read(kind: str, text: str, reading: Reading = EN, **params):
    return VALIDATORS[kind].parse(text, params, reading)


def refusal(kind: str, text: str, reading: Reading = EN, **params) -> str:
    with pytest.raises(Invalid) as refused:
        read(kind, text, reading, **params)
    return refused.value.reason


def test_digits_keeps_the_digits_as_text_with_leading_zeros():
    assert read("digits", "007") == "007"


def test_digits_refuses_anything_but_digits():
    assert refusal("digits", "12a") == "Enter digits only."


def test_digits_holds_to_its_lengths():
    assert refusal("digits", "123", min_length=4, max_length=6) == "Enter 4 to 6 digits."


def test_amount_within_its_range_is_kept_as_its_number():
    assert read("amount", "1500", min=1000, max=5000) == "1500"


def test_amount_outside_its_range_says_the_range():
    assert refusal("amount", "500", min=1000, max=5000) == "Enter an amount from 1000 to 5000."


def test_amount_takes_decimals_only_when_allowed():
    assert read("amount", "12,50", decimals=2) == "12.50"
    assert refusal("amount", "12.5") == "Enter a number."


def test_pin_takes_4_to_6_digits():
    assert read("pin", "4321") == "4321"
    assert read("pin", "654321") == "654321"
    assert refusal("pin", "123") == "Enter a PIN of 4 to 6 digits."
    assert refusal("pin", "1234567") == "Enter a PIN of 4 to 6 digits."


def test_pin_of_a_fixed_length():
    assert refusal("pin", "12345", length=4) == "Enter a PIN of 4 to 4 digits."


def test_pin_is_secret():
    assert VALIDATORS["pin"].secret and not VALIDATORS["digits"].secret


def test_phone_reads_what_people_type_into_e164():
    assert read("phone", "90 123 45 67") == "+998901234567"
    assert read("phone", "+998 90 123-45-67") == "+998901234567"


def test_phone_refuses_what_is_not_a_number():
    assert refusal("phone", "12") == "Enter a valid phone number."


def test_date_reads_day_first_and_keeps_iso():
    assert read("date", "17.05.1990") == "1990-05-17"
    assert read("date", "17/05/1990") == "1990-05-17"
    assert read("date", "1990-05-17") == "1990-05-17"
    assert read("date", "17051990") == "1990-05-17"


def test_date_refuses_a_day_that_does_not_exist():
    assert refusal("date", "31.02.1990") == "Enter a date as DD.MM.YYYY."


def test_date_in_the_past_only_when_asked():
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).strftime("%d.%m.%Y")
    assert refusal("date", tomorrow, past=True) == "Enter a date in the past."


def test_regex_must_match_the_whole_answer():
    assert read("regex", "AB123456", pattern="[A-Z]{2}[0-9]{6}") == "AB123456"
    assert refusal("regex", "AB1234567", pattern="[A-Z]{2}[0-9]{6}") == "Invalid format."


def test_text_takes_anything_up_to_its_length():
    assert read("text", "Tashkent") == "Tashkent"
    assert refusal("text", "x" * 11, max_length=10) == "Enter at most 10 characters."


def test_a_refusal_speaks_russian_to_a_russian_speaker():
    assert refusal("pin", "1", Reading("ru", "UZ")) == "Введите PIN из 4-6 цифр."


@pytest.mark.parametrize(("kind", "params", "problem"), [
    ("digits", {"min_length": 0}, "min_length: a whole number from 1 to 64"),
    ("amount", {"min": "lots"}, "min: a number"),
    ("pin", {"length": 8}, "length: a whole number from 4 to 6"),
    ("phone", {"region": "Uzbekistan"}, "region: a two-letter country code, e.g. UZ"),
    ("date", {"past": True, "future": True}, "past and future cannot both be true"),
    ("regex", {"pattern": "("}, "pattern: missing ), unterminated subpattern at position 0"),
    ("text", {"colour": "red"}, "unknown parameter 'colour' (it takes max_length)"),
])
def test_each_validator_checks_its_parameters_at_save_time(kind, params, problem):
    assert VALIDATORS[kind].check(params) == problem
