"""Concatenated SMS framing, both ways, and what the SMSC makes of it over real TCP; and how a text
is cut into parts under each long-message setting (longsms)."""

from __future__ import annotations

import asyncio

import pytest

from engage.engine import sms_encoding
from engage.engine.smpp import longsms
from engage.engine.smpp.client import EsmeClient, SmppConfig
from engage.engine.smpp.multipart import concat_of, sar_parts, split_udh, udh_parts
from engage.simulators.smsc import SmscSimulator

PAYLOADS = [b"first part ", b"second part ", b"third"]


def test_single_payload_goes_out_unchanged_without_udh() -> None:
    assert udh_parts([b"short"], ref=9) == [(0, b"short")]
    assert sar_parts([b"short"], ref=9) == [({}, b"short")]


def test_eight_bit_reference_udh_layout() -> None:
    parts = udh_parts(PAYLOADS, ref=0x1A7)
    assert [esm for esm, _ in parts] == [0x40, 0x40, 0x40]
    assert parts[1][1] == bytes([0x05, 0x00, 0x03, 0xA7, 3, 2]) + b"second part "


def test_sixteen_bit_reference_udh_layout() -> None:
    parts = udh_parts(PAYLOADS, ref=0x1A7, ref_bits=16)
    assert parts[2][1] == bytes([0x06, 0x08, 0x04, 0x01, 0xA7, 3, 3]) + b"third"


@pytest.mark.parametrize("ref_bits", [8, 16])
def test_udh_split_reverses_udh_framing(ref_bits: int) -> None:
    parts = udh_parts(PAYLOADS, ref=200, ref_bits=ref_bits)
    split = [split_udh(sm) for _, sm in parts]
    assert split == [(200, 3, n, body) for n, body in enumerate(PAYLOADS, start=1)]
    assert b"".join(s[3] for s in split if s) == b"".join(PAYLOADS)


def test_split_udh_steps_over_other_information_elements() -> None:
    ports = bytes([0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0])  # application port addressing, 16-bit
    message = bytes([11]) + ports + bytes([0x00, 0x03, 7, 2, 1]) + b"body"
    assert split_udh(message) == (7, 2, 1, b"body")


@pytest.mark.parametrize("message", [b"", bytes([5, 0, 3, 1]), bytes([3, 0x05, 0x01, 0x00]) + b"x",
                                     bytes([5, 0, 3, 1, 2, 0]) + b"x", bytes([5, 0, 3, 1, 2, 3]) + b"x"])
def test_split_udh_returns_none_without_a_usable_concatenation_element(message: bytes) -> None:
    assert split_udh(message) is None


def test_sar_parts_number_segments_from_one() -> None:
    parts = sar_parts(PAYLOADS, ref=0x12345)
    assert [tlvs for tlvs, _ in parts] == [
        {"sar_msg_ref_num": 0x2345, "sar_total_segments": 3, "sar_segment_seqnum": n} for n in (1, 2, 3)
    ]
    assert [body for _, body in parts] == PAYLOADS


def test_framing_refuses_nothing_and_too_much() -> None:
    with pytest.raises(ValueError):
        udh_parts([], ref=1)
    with pytest.raises(ValueError):
        sar_parts([b"x"] * 256, ref=1)
    with pytest.raises(ValueError):
        udh_parts(PAYLOADS, ref=1, ref_bits=12)


def test_concat_of_reads_udh_or_sar_and_leaves_plain_messages_alone() -> None:
    esm, sm = udh_parts(PAYLOADS, ref=4)[0]
    assert concat_of(esm, sm) == ((4, 3, 1), b"first part ")
    assert concat_of(0, b"plain", (4, 3, 2)) == ((4, 3, 2), b"plain")
    assert concat_of(0, b"plain") == (None, b"plain")


def submit_all(sim: SmscSimulator, parts: list[tuple[int, bytes, dict]]) -> None:
    async def scenario() -> None:
        client = EsmeClient(SmppConfig("127.0.0.1", sim.port, "engage", "secret"))
        await client.connect()
        for esm_class, body, tlvs in parts:
            result = await client.submit(source="ENGAGE", destination="254700000001", short_message=body,
                                         esm_class=esm_class, tlvs=tlvs)
            assert result.status == 0
        await client.close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=30))


def test_smsc_sees_udh_parts_as_one_concatenated_message(smsc: SmscSimulator) -> None:
    submit_all(smsc, [(esm, sm, {}) for esm, sm in udh_parts(PAYLOADS, ref=77, ref_bits=16)])
    assert [r.concat for r in smsc.received] == [(77, 3, 1), (77, 3, 2), (77, 3, 3)]
    assert all(r.esm_class == 0x40 for r in smsc.received)


def test_smsc_sees_sar_parts_as_one_concatenated_message(smsc: SmscSimulator) -> None:
    submit_all(smsc, [(0, sm, tlvs) for tlvs, sm in sar_parts(PAYLOADS, ref=300)])
    assert [r.concat for r in smsc.received] == [(300, 3, 1), (300, 3, 2), (300, 3, 3)]
    assert [r.short_message for r in smsc.received] == PAYLOADS


def bodies(parts: list[longsms.Part]) -> list[bytes]:
    """Each part's share of the text, its UDH taken off."""
    return [split_udh(sm)[3] if esm & 0x40 else sm for esm, sm, _ in parts]


def test_an_escape_pair_is_never_split_across_parts() -> None:
    text = "a" * 152 + "€" + "b" * 10
    coding, parts = longsms.plan(text, "udh8")
    first, second = bodies(parts)
    assert (coding, len(first), second[:2]) == (0, 152, b"\x1b\x65")
    assert "".join(sms_encoding.decode_gsm7(b) for b in (first, second)) == text


def test_a_surrogate_pair_is_never_split_across_parts() -> None:
    text = "x" * 66 + "😀" + "y" * 10
    coding, parts = longsms.plan(text, "udh8")
    pieces = [b.decode("utf-16-be") for b in bodies(parts)]  # strict: a split pair would not decode
    assert (coding, pieces) == (8, ["x" * 66, "😀" + "y" * 10])


@pytest.mark.parametrize(("mode", "sizes"), [("udh8", [153, 153, 94]), ("udh16", [152, 152, 96]),
                                             ("sar", [153, 153, 94]), ("payload", [400])])
def test_part_sizes_follow_the_long_message_mode(mode: str, sizes: list[int]) -> None:
    _, parts = longsms.plan("z" * 400, mode, ref=0x1234)
    if mode == "payload":
        assert parts == [(0, b"", {"message_payload": b"z" * 400})]
        return
    assert [len(b) for b in bodies(parts)] == sizes
    if mode == "sar":
        assert [t for _, _, t in parts] == [{"sar_msg_ref_num": 0x1234, "sar_total_segments": 3,
                                             "sar_segment_seqnum": n} for n in (1, 2, 3)]
    else:
        assert {concat_of(esm, sm)[0][:2] for esm, sm, _ in parts} == {(0x34 if mode == "udh8" else 0x1234, 3)}


@pytest.mark.parametrize(("text", "count"), [("g" * 160, 1), ("g" * 161, 2), ("ж" * 70, 1), ("ж" * 71, 2),
                                             ("{" * 80, 1), ("{" * 81, 2)])
def test_a_text_fits_one_part_up_to_160_septets_or_70_ucs2_units(text: str, count: int) -> None:
    assert len(longsms.plan(text)[1]) == count


@pytest.mark.parametrize("text", ["Hello " * 60, "Привет " * 30, "[]{}~^|€\\" * 40, "😀a" * 50, "é" * 400])
def test_udh8_part_counts_agree_with_what_the_template_editor_shows(text: str) -> None:
    assert len(longsms.plan(text, "udh8")[1]) == sms_encoding.analyse(text).parts


def test_ia5_parts_are_cut_where_the_septets_would_be() -> None:
    coding, parts = longsms.plan("[" * 100, "udh8", data_coding=1)
    assert (coding, bodies(parts)) == (1, [b"[" * 76, b"[" * 24])


def test_a_text_over_255_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="255"):
        longsms.plan("x" * 153 * 256)
