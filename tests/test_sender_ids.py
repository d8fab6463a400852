"""Sender ids are checked when a campaign is set up, and typed the way SMPP needs them."""

import dataclasses

import pytest

from engage.engine.sender_ids import SenderId, SenderIdError, parse_sender


def test_a_brand_name_is_alphanumeric_with_ton_5_npi_0():
    assert parse_sender("Beeline") == SenderId("Beeline", "alphanumeric", 5, 0)


def test_an_alphanumeric_id_may_use_space_and_the_allowed_punctuation():
    assert parse_sender("Shop & Co.").kind == "alphanumeric"
    assert parse_sender("my_brand-1'").kind == "alphanumeric"


def test_an_alphanumeric_id_may_have_digits_beside_letters():
    assert parse_sender("Info24").kind == "alphanumeric"


def test_eleven_characters_are_allowed():
    assert parse_sender("ElevenChars").value == "ElevenChars"


def test_more_than_eleven_characters_are_refused():
    with pytest.raises(SenderIdError, match=r"^sender id 'MyVeryLongBrand': alphanumeric sender ids have at most 11 "
                                            r"characters$"):
        parse_sender("MyVeryLongBrand")


def test_a_character_outside_the_allowed_set_is_refused_naming_it():
    with pytest.raises(SenderIdError, match=r"sender id 'Shop!': '!' is not allowed"):
        parse_sender("Shop!")


def test_letters_outside_the_gsm_alphabet_are_refused():
    with pytest.raises(SenderIdError, match="letters of the GSM 03.38 alphabet"):
        parse_sender("Магазин")


def test_surrounding_spaces_are_dropped():
    assert parse_sender("  Engage ").value == "Engage"


def test_an_empty_sender_id_is_refused():
    with pytest.raises(SenderIdError, match="sender id is empty"):
        parse_sender("  ")


def test_a_short_code_has_ton_3_npi_0():
    assert parse_sender("7777") == SenderId("7777", "short_code", 3, 0)


@pytest.mark.parametrize("code", ["123", "12345678"])
def test_short_codes_have_three_to_eight_digits(code):
    assert parse_sender(code).kind == "short_code"


def test_a_two_digit_short_code_is_refused():
    with pytest.raises(SenderIdError, match="short codes have 3 to 8 digits"):
        parse_sender("12")


def test_an_international_number_is_a_long_number_in_digits_without_plus():
    assert parse_sender("+998 90 123-45-67") == SenderId("998901234567", "long_number", 1, 1)


def test_a_national_number_is_read_in_the_region():
    assert parse_sender("90 123 45 67", region="UZ").value == "998901234567"


def test_an_invalid_long_number_is_refused():
    with pytest.raises(SenderIdError, match="neither a short code .* nor a valid phone number"):
        parse_sender("+998 12 34")


def test_a_sender_id_error_is_a_value_error():
    assert issubclass(SenderIdError, ValueError)


def test_a_sender_id_cannot_be_changed_once_parsed():
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse_sender("Engage").value = "Other"  # type: ignore[misc]
