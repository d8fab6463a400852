"""Phone numbers: the fast path for plain international digits gives exactly the full parse's answer."""

import random

import phonenumbers
import pytest

from engage.engine.phones import InvalidNumber, fast_e164, full_e164, mask, to_e164

REGIONS = ["UZ", "RU", "KZ", "US", "GB", "DE", "IT", "FR", "CN", "IN", "BR", "AR", "MX", "NG", "TR", "AU"]


def _full(text: str, region: str) -> str | None:
    try:
        return full_e164(text, region)
    except InvalidNumber:
        return None


def _samples(rng: random.Random) -> list[str]:
    """Real-looking numbers (example numbers with their last digits randomised) and random digits."""
    out = []
    for region in REGIONS:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            nsn = str(example.national_number)
            for _ in range(60):
                tail = "".join(rng.choice("0123456789") for _ in range(4))
                out.append(f"{example.country_code}{nsn[:-4]}{tail}")
    ccs = [str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE]
    for _ in range(1500):
        out.append(rng.choice(ccs) + str(rng.randrange(10 ** rng.randint(5, 12))))
    return out


def test_the_fast_path_agrees_with_the_full_parse():
    rng = random.Random(7)
    taken = 0
    for digits in _samples(rng):
        region = rng.choice(REGIONS)
        for text in (f"+{digits}", f"00{digits}", digits):
            fast = fast_e164(text, region)
            if fast is not None:
                taken += 1
                assert fast == _full(text, region), (text, region)
    assert taken > 1000  # the fast path is really taken, for most real-looking numbers


def test_the_fast_path_takes_international_digits_without_a_plus_for_the_default_country():
    assert fast_e164("998901234567", "UZ") == "+998901234567"


def test_national_formats_still_parse():
    assert to_e164("90 123-45-67", "UZ") == "+998901234567"
    assert to_e164("8 (916) 123-45-67", "RU") == "+79161234567"


def test_a_leading_00_is_the_international_prefix():
    assert to_e164("00447911123456", "US") == "+447911123456"


@pytest.mark.parametrize("raw", ["", "12345", "+99890123", "not a number", "+0123456789"])
def test_invalid_numbers_are_refused(raw):
    with pytest.raises(InvalidNumber):
        to_e164(raw, "UZ")


def test_a_masked_number_keeps_its_start_and_end():
    assert mask("+998901234567") == "+99890*****67"
