"""Delivery receipt text as SMSCs really write it, and receipts read from deliver_sm."""

from __future__ import annotations

from datetime import datetime

import pytest

from engage.engine.smpp.client import DeliverSm
from engage.engine.smpp.receipts_text import (
    FINAL_STATS,
    format_receipt_text,
    is_final,
    parse_receipt_text,
    receipt_deliver_fields,
    receipt_from_deliver,
    receipt_stamp,
)

STANDARD = (
    "id:0123456789 sub:001 dlvrd:001 submit date:2405011200 done date:2405011201 stat:DELIVRD err:000 "
    "text:Hello there"
)


def deliver(short_message: bytes = b"", esm_class: int = 0x04, **overrides: object) -> DeliverSm:
    fields: dict[str, object] = {
        "source_addr": "254700000001", "destination_addr": "ENGAGE", "esm_class": esm_class, "data_coding": 0,
        "short_message": short_message, "receipted_message_id": None, "message_state": None,
        "network_error_code": None, "sar": None, "message_payload": None,
    }
    fields.update(overrides)
    return DeliverSm(**fields)  # type: ignore[arg-type]


def test_standard_receipt_text_parses_into_every_field() -> None:
    assert parse_receipt_text(STANDARD) == {
        "id": "0123456789", "sub": "001", "dlvrd": "001",
        "submit_date": datetime(2024, 5, 1, 12, 0), "done_date": datetime(2024, 5, 1, 12, 1),
        "stat": "DELIVRD", "err": "000", "text": "Hello there",
    }


def test_keys_are_matched_in_any_case_including_capitalised_text() -> None:
    parsed = parse_receipt_text("ID:ab12 SUB:001 DLVRD:001 Submit Date:2405011200 Done Date:2405011201 "
                                "Stat:delivrd Err:000 Text:Hi")
    assert (parsed["id"], parsed["stat"], parsed["err"], parsed["text"]) == ("ab12", "DELIVRD", "000", "Hi")
    assert parsed["done_date"] == datetime(2024, 5, 1, 12, 1)


def test_dates_with_seconds_are_understood() -> None:
    parsed = parse_receipt_text("id:1 submit date:240501120005 done date:240501120159 stat:DELIVRD")
    assert parsed["submit_date"] == datetime(2024, 5, 1, 12, 0, 5)
    assert parsed["done_date"] == datetime(2024, 5, 1, 12, 1, 59)


def test_missing_fields_come_back_as_none() -> None:
    parsed = parse_receipt_text("id:77 stat:UNDELIV")
    assert (parsed["id"], parsed["stat"]) == ("77", "UNDELIV")
    assert parsed["sub"] is parsed["dlvrd"] is parsed["err"] is parsed["text"] is None
    assert parsed["submit_date"] is parsed["done_date"] is None


def test_extra_spaces_around_keys_and_values_are_tolerated() -> None:
    parsed = parse_receipt_text("id: 55   sub:001  dlvrd:000   submit  date: 2405011200 "
                                " done_date:2405011300  stat: EXPIRED   err: 012  text:")
    assert (parsed["id"], parsed["stat"], parsed["err"]) == ("55", "EXPIRED", "012")
    assert parsed["done_date"] == datetime(2024, 5, 1, 13, 0)


def test_impossible_dates_become_none_instead_of_failing() -> None:
    assert parse_receipt_text("id:1 done date:2413991299 stat:DELIVRD")["done_date"] is None


def test_words_inside_the_message_text_do_not_override_real_fields() -> None:
    parsed = parse_receipt_text("id:real stat:DELIVRD err:000 text:id:fake stat:REJECTD")
    assert (parsed["id"], parsed["stat"], parsed["text"]) == ("real", "DELIVRD", "id:fake stat:REJECTD")


@pytest.mark.parametrize(("written", "normalised"), [("DELIVERED", "DELIVRD"), ("undeliverable", "UNDELIV"),
                                                     ("Rejected", "REJECTD"), ("ACCEPTED", "ACCEPTD")])
def test_long_stat_spellings_are_normalised(written: str, normalised: str) -> None:
    assert parse_receipt_text(f"id:1 stat:{written}")["stat"] == normalised


def test_format_then_parse_round_trips_and_cuts_text_to_twenty_characters() -> None:
    text = format_receipt_text("abc", "UNDELIV", err="034", submit_date=datetime(2024, 1, 2, 3, 4),
                               done_date=datetime(2024, 1, 2, 3, 9), text="x" * 30)
    parsed = parse_receipt_text(text)
    assert (parsed["id"], parsed["stat"], parsed["err"], parsed["dlvrd"]) == ("abc", "UNDELIV", "034", "000")
    assert parsed["done_date"] == datetime(2024, 1, 2, 3, 9)
    assert parsed["text"] == "x" * 20


def test_dates_are_written_as_strftime_would_including_years_before_2010() -> None:
    text = format_receipt_text("abc", "DELIVRD", submit_date=datetime(2009, 3, 4, 5, 6, 59),
                               done_date=datetime(2031, 12, 31, 23, 59), text="")
    assert "submit date:0903040506 done date:3112312359 " in text


@pytest.mark.parametrize("timestamp", [1_700_000_000.0, 1_700_000_059.999, 1_700_000_060.0, 1_711_846_799.5,
                                       1_711_846_800.25, 946_684_799.9])
def test_a_receipt_stamp_is_the_local_minute_of_any_instant_in_its_second(timestamp: float) -> None:
    assert receipt_stamp(timestamp) == f"{datetime.fromtimestamp(timestamp):%y%m%d%H%M}"
    assert receipt_stamp(timestamp) == receipt_stamp(timestamp)  # remembered, unchanged


def test_final_and_non_final_stats() -> None:
    assert {"DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED"} == FINAL_STATS
    assert is_final("delivered") and not is_final("ENROUTE") and not is_final("ACCEPTD")


def test_receipt_tlvs_win_over_the_text() -> None:
    d = deliver(b"id:from-text stat:DELIVRD err:000", receipted_message_id="from-tlv", message_state=5)
    receipt = receipt_from_deliver(d)
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.final) == ("from-tlv", "UNDELIV", True)


def test_receipt_text_is_the_fallback_when_tlvs_are_absent() -> None:
    receipt = receipt_from_deliver(deliver(STANDARD.encode()))
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.err) == ("0123456789", "DELIVRD", "000")
    assert receipt.done_at == datetime(2024, 5, 1, 12, 1)


def test_receipt_text_in_message_payload_is_read() -> None:
    receipt = receipt_from_deliver(deliver(message_payload=b"id:9 stat:EXPIRED err:001"))
    assert receipt is not None and (receipt.message_id, receipt.stat) == ("9", "EXPIRED")


def test_sme_delivery_acknowledgement_counts_as_a_receipt() -> None:
    assert receipt_from_deliver(deliver(b"id:5 stat:DELIVRD", esm_class=0x08)) is not None


def test_subscriber_message_is_not_a_receipt() -> None:
    assert receipt_from_deliver(deliver(b"id:5 stat:DELIVRD", esm_class=0x00)) is None
    assert receipt_from_deliver(deliver(b"hello", esm_class=0x40)) is None


def test_receipt_without_any_message_id_is_dropped() -> None:
    assert receipt_from_deliver(deliver(b"stat:DELIVRD")) is None


def test_unknown_message_state_falls_back_to_the_text_stat() -> None:
    receipt = receipt_from_deliver(deliver(b"id:1 stat:DELIVRD", message_state=42))
    assert receipt is not None and receipt.stat == "DELIVRD"


def test_network_error_code_fills_a_missing_err() -> None:
    receipt = receipt_from_deliver(deliver(b"id:1", message_state=5, network_error_code=b"\x03\x00\x22"))
    assert receipt is not None and receipt.err == "034"


def test_receipt_deliver_fields_carry_state_in_both_tlvs_and_text() -> None:
    fields = receipt_deliver_fields("m1", handset="254700000001", sender="ENGAGE", stat="EXPIRED", err="005",
                                    submit_date=datetime(2024, 1, 1), done_date=datetime(2024, 1, 2))
    assert (fields["receipted_message_id"], fields["message_state"], fields["esm_class"]) == ("m1", 3, 0x04)
    assert (fields["source_addr"], fields["destination_addr"]) == ("254700000001", "ENGAGE")
    assert parse_receipt_text(fields["short_message"].decode())["stat"] == "EXPIRED"


# Receipt texts as vendors write them, beyond the Appendix B layout.
VENDOR_VARIANTS = [
    ("seconds after a space",
     "id:1001 sub:001 dlvrd:001 submit date:2611221530 45 done date:2611221531 12 stat:DELIVRD err:000 text:Hi",
     {"id": "1001", "stat": "DELIVRD", "submit_date": datetime(2026, 11, 22, 15, 30, 45),
      "done_date": datetime(2026, 11, 22, 15, 31, 12)}),
    ("four-digit years", "id:1002 submit date:20261122153045 done date:20261122153110 stat:DELIVRD err:0",
     {"submit_date": datetime(2026, 11, 22, 15, 30, 45), "done_date": datetime(2026, 11, 22, 15, 31, 10),
      "err": "0"}),
    ("commas, capitals, underscores", "ID:1003,SUB:1,DLVRD:1,SUBMIT_DATE:2611221530,DONE_DATE:2611221531,"
     "STAT:DELIVERED,ERR:000,TEXT:x", {"id": "1003", "dlvrd": "1", "stat": "DELIVRD", "text": "x",
                                       "done_date": datetime(2026, 11, 22, 15, 31)}),
    ("vendor fields and another order", "stat:UNDELIV imsi:639010000000001 id:1004 msc:254700 err:0x0B "
     "mcc:639 done date:2611221531", {"id": "1004", "stat": "UNDELIV", "err": "0x0B"}),
    ("an empty field before the next", "id:1005 err: stat:EXPIRED", {"id": "1005", "err": None, "stat": "EXPIRED"}),
    ("no space after keys", "id:AB12CD34EF sub:001 dlvrd:000 submitdate:2611221530 donedate:2611221535 "
     "stat:REJECTD err:008", {"id": "AB12CD34EF", "stat": "REJECTD", "done_date": datetime(2026, 11, 22, 15, 35)}),
    ("leading zeros kept", "id:0000012345 stat:DELIVRD", {"id": "0000012345"}),
    ("failed spelt out", "id:1006 stat:FAILED err:001", {"stat": "UNDELIV"}),
    ("buffered is not final", "id:1007 stat:BUFFRED err:000", {"stat": "ENROUTE"}),
    ("lower case everything", "id:1008 sub:001 dlvrd:001 submit date:2611221530 done date:2611221531 "
     "stat:delivrd err:000 text:hello", {"stat": "DELIVRD", "text": "hello"}),
    ("a date too short to read", "id:1009 done date:26112215 stat:DELIVRD", {"done_date": None}),
]


@pytest.mark.parametrize(("text", "expected"), [v[1:] for v in VENDOR_VARIANTS], ids=[v[0] for v in VENDOR_VARIANTS])
def test_vendor_receipt_text_variants_are_read(text: str, expected: dict) -> None:
    parsed = parse_receipt_text(text)
    assert {key: parsed[key] for key in expected} == expected


def test_a_receipt_with_tlvs_and_no_text_is_read_from_the_tlvs() -> None:
    receipt = receipt_from_deliver(deliver(b"", receipted_message_id="77aa", message_state=3,
                                           network_error_code=b"\x03\x00\x05"))
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.err, receipt.done_at) == ("77aa", "EXPIRED", "005", None)


def test_a_text_only_receipt_keeps_its_done_date_with_seconds() -> None:
    receipt = receipt_from_deliver(deliver(b"id:55 done date:261122153059 stat:delivered err:000"))
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.final) == ("55", "DELIVRD", True)
    assert receipt.done_at == datetime(2026, 11, 22, 15, 30, 59)


def test_a_receipt_tlv_id_wins_over_an_id_in_another_base_in_the_text() -> None:
    receipt = receipt_from_deliver(deliver(b"id:4660 stat:DELIVRD", receipted_message_id="1234"))
    assert receipt is not None and receipt.message_id == "1234"
