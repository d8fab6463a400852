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


ALL_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
EDGE_CASES = [
    ("+390612345678", "IT"), ("00390612345678", "IT"), ("390612345678", "IT"), ("0612345678", "IT"),  # leading 0
    ("+393123456789", "IT"), ("393123456789", "IT"), ("+390669812345", "VA"), ("390669812345", "VA"),
    ("12125550123", "US"), ("+12125550123", "CA"), ("16135550123", "CA"), ("16135550123", "US"),  # +1
    ("12684601234", "AG"), ("+12684601234", "US"), ("12685551234", "AG"), ("2125550123", "US"),
    ("79161234567", "RU"), ("79161234567", "KZ"), ("77012345678", "RU"), ("77012345678", "KZ"),  # +7
    ("87012345678", "KZ"), ("89161234567", "RU"), ("+78001234567", "RU"), ("78001234567", "RU"),
    ("447911123456", "GB"), ("+447911123456", "JE"), ("441534456789", "JE"), ("+447700900123", "GB"),  # +44
    ("49123456789", "DE"), ("4930123456", "DE"), ("+4915123456789", "DE"), ("004915123456789", "AT"),
    ("+012125551234", "US"), ("0012125551234", "US"), ("+0998901234567", "UZ"), ("000998901234567", "UZ"),
    ("+9989012345", "UZ"), ("+99890123456789", "UZ"), ("99890123456", "UZ"), ("9989012345678", "UZ"),
    ("+8001234567", "US"), ("+80012345678", "US"), ("+8781234567890", "US"), ("+882123456789012", "US"),
    ("+123456789012345678", "US"), ("+1234567", "US"), ("+99890123456", "uz"), ("998901234567", "ZZ"),
]


def _outcome(parse, text: str, region: str) -> str | type[InvalidNumber]:
    try:
        return parse(text, region)
    except InvalidNumber:
        return InvalidNumber


def _mutated(rng: random.Random, nsn: str) -> str:
    """A national number near a valid one: digits changed, one dropped or added (lengths at the edges), a 0
    in front, or left as it is."""
    kind = rng.randrange(6)
    if kind == 0:
        return nsn[:-1]
    if kind == 1:
        return nsn + rng.choice("0123456789")
    if kind == 2:
        return "0" + nsn
    if kind == 3:
        return nsn
    digits = list(nsn)
    for at in rng.sample(range(len(digits)), min(len(digits), rng.randint(1, 3))):
        digits[at] = rng.choice("0123456789")
    return "".join(digits)


def _numbers_in_every_form(rng: random.Random) -> list[tuple[str, str]]:
    """(text, default region) for numbers of every region and non-geographic calling code, near their
    example numbers of a few types, written with "+", "00", as bare digits and in national forms, read in
    their own region, in another region sharing the calling code, or in a random one."""
    numbers = []
    for region in ALL_REGIONS:
        for kind in rng.sample(list(phonenumbers.PhoneNumberType.values()), 7):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append((example.country_code, phonenumbers.national_significant_number(example), region))
    for cc in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(cc)
        numbers.append((cc, phonenumbers.national_significant_number(example), "001"))
    texts = []
    for cc, example_nsn, region in numbers:
        for _ in range(2):
            nsn = _mutated(rng, example_nsn)
            siblings = phonenumbers.region_codes_for_country_code(cc)
            home = rng.choice([region, region, rng.choice(ALL_REGIONS), *siblings])
            home = home if home != "001" else rng.choice(ALL_REGIONS)
            for text in (f"+{cc}{nsn}", f"00{cc}{nsn}", f"{cc}{nsn}", nsn, f"0{nsn}", f"8{nsn}"):
                texts.append((text, home))
    return texts + EDGE_CASES


def test_every_number_gets_the_full_parse_answer_whichever_path_reads_it():
    rng = random.Random(20240611)
    cases = _numbers_in_every_form(rng)
    taken = 0
    for text, region in cases:
        expected = _outcome(full_e164, text, region)
        assert _outcome(to_e164, text, region) == expected, (text, region)
        fast = fast_e164(text, region)
        if fast is not None:
            taken += 1
            assert fast == expected, (text, region)
    assert len(cases) > 8000  # some 1,600 numbers, in six forms each
    assert taken > 1200  # the fast path is really taken, across regions and forms


def test_the_fast_path_takes_valid_international_numbers_of_almost_every_region():
    numbers = [
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        for region in ALL_REGIONS
        for kind in phonenumbers.PhoneNumberType.values()
        if (example := phonenumbers.example_number_for_type(region, kind)) is not None
        and phonenumbers.is_valid_number(example)
    ]
    left = [number for number in numbers if fast_e164(number, "ZZ") is None]
    # what is left has a leading zero (Italy, some of Africa) or starts like a national prefix (8 in Russia)
    assert len(left) < len(numbers) / 20, left


@pytest.mark.parametrize(
    ("text", "region"),
    [("998330000080", "UZ"), ("+998901234567", "UZ"), ("79161234567", "RU"), ("+447911123456", "GB"),
     ("+12125550123", "US"), ("+16135550123", "US"), ("77012345678", "KZ"), ("+77012345678", "RU")],
)
def test_the_commonest_forms_in_operator_files_take_the_fast_path(text, region):
    assert fast_e164(text, region) == "+" + text.lstrip("+")


def test_a_plus_followed_by_zero_has_no_calling_code():
    assert fast_e164("+012125551234", "US") is None
    with pytest.raises(InvalidNumber):
        to_e164("+012125551234", "US")


def test_an_italian_leading_zero_is_left_to_the_full_parse():
    assert fast_e164("+390612345678", "IT") is None
    assert to_e164("+390612345678", "IT") == "+390612345678"


def test_bare_digits_that_are_a_valid_national_number_keep_that_reading():
    assert fast_e164("49123456789", "DE") is None
    assert to_e164("49123456789", "DE") == "+4949123456789"


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
