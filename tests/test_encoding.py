"""GSM-7 / UCS-2 detection and part counting, as an SMSC bills them."""

import pytest

from engage.engine.sms_encoding import analyse, decode, split


@pytest.mark.parametrize(("text", "encoding", "parts"), [
    ("a" * 160, "gsm7", 1),
    ("a" * 161, "gsm7", 2),
    ("a" * 306, "gsm7", 2),
    ("a" * 307, "gsm7", 3),
    ("П" * 70, "ucs2", 1),
    ("П" * 71, "ucs2", 2),
    ("П" * 134, "ucs2", 2),
    ("П" * 135, "ucs2", 3),
])
def test_part_count_follows_the_160_153_70_67_limits(text, encoding, parts):
    info = analyse(text)
    assert (info.encoding, info.parts) == (encoding, parts)


def test_extension_characters_count_two_septets():
    assert analyse("€" * 80).units == 160
    assert analyse("€" * 80).parts == 1
    assert analyse("€" * 81).parts == 2


def test_one_cyrillic_letter_switches_the_whole_text_to_ucs2():
    info = analyse("Hello Ж")
    assert info.encoding == "ucs2"
    assert info.non_gsm_chars == "Ж"


def test_an_escape_pair_is_never_split_across_parts():
    text = "a" * 152 + "€" + "b" * 10  # the euro sign's two septets would straddle 153
    payloads = split(text)
    assert [len(p) for p in payloads] == [152, 12]
    assert "".join(decode(p, 0) for p in payloads) == text


def test_a_surrogate_pair_is_never_split_across_parts():
    text = "ж" * 66 + "😀" + "ж" * 10
    payloads = split(text)
    assert len(payloads[0]) == 66 * 2
    assert "".join(decode(p, 8) for p in payloads) == text


def test_every_mix_of_basic_extension_and_other_characters_is_measured_one_character_at_a_time():
    """The one-part GSM-7 shortcut agrees with counting each character's septets."""
    import random

    from engage.engine.sms_encoding import GSM7_ENCODE, _gsm_units

    pool = [*list(GSM7_ENCODE)[:40], "€", "{", "^", "~", "Ж", "😀"]
    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 170)))
        units = [_gsm_units(ch) for ch in text]
        info = analyse(text)
        if all(units):
            single = sum(units) <= 160
            assert (info.encoding, info.units) == ("gsm7", sum(units)), text
            assert (info.parts == 1) == single, text
        else:
            assert info.encoding == "ucs2", text
