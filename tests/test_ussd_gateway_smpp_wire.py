"""USSD on the SMPP wire: ussd_service_op (0x0501) and its_session_info (0x1383) are real fields of
deliver_sm and submit_sm, decoded and encoded; reading a USSD deliver_sm and laying out its answer
(engage/engine/smpp/ussd_ops.py); the provider config keys for operators' op codes."""

from __future__ import annotations

import pytest

from engage.engine.smpp import codec, fastpdu
from engage.engine.smpp.client_types import deliver_from_pdu
from engage.engine.smpp.settings import validate
from engage.engine.smpp.ussd_ops import (
    UssdOps,
    UssdWireError,
    answer_body,
    answer_tlvs,
    is_ussd,
    read_request,
    session_number,
)


def _deliver(**fields: object) -> bytes:
    base = {"service_type": "USSD", "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "998901234567",
            "destination_addr": "123", "short_message": b"*123#"}
    return fastpdu.encode_sm(fastpdu.DELIVER_SM, 7, {**base, **fields})


def test_a_deliver_sm_carries_ussd_service_op_and_its_session_info_as_fields() -> None:
    deliver = deliver_from_pdu(codec.decode(_deliver(ussd_service_op=1, its_session_info=0x2A04)))
    assert (deliver.service_type, deliver.ussd_service_op, deliver.its_session_info) == ("USSD", 1, 0x2A04)


def test_the_ussd_tlvs_are_encoded_in_the_octets_smpp_gives_them() -> None:
    tlvs = fastpdu.encode_tlvs({"ussd_service_op": 2, "its_session_info": 0x2A05})
    assert tlvs == bytes.fromhex("0501" "0001" "02" "1383" "0002" "2a05")


def test_a_submit_sm_with_ussd_fields_reads_back_the_same_by_the_fast_path_and_by_smpplib() -> None:
    fields = {"service_type": "USSD", "source_addr": "123", "destination_addr": "998901234567",
              "short_message": b"1 Balance", "ussd_service_op": 17, "its_session_info": 0x2A05}
    ours = codec.decode(fastpdu.encode_sm(fastpdu.SUBMIT_SM, 9, fields))
    theirs = codec.decode(codec.encode(codec.make("submit_sm", sequence=9, **fields)))
    read = [(p.ussd_service_op, p.its_session_info, p.service_type, p.short_message) for p in (ours, theirs)]
    assert read == [(17, 0x2A05, b"USSD", b"1 Balance")] * 2


def test_a_submit_encoder_puts_the_service_type_of_one_submit_in_place_of_the_binds() -> None:
    encoder = fastpdu.SubmitEncoder("CMT", 0, 1, 1, 1)
    data = encoder.encode(3, "123", "998901234567", b"hi", 0, 0, 0, service_type="USSD")
    assert codec.decode(data).service_type == b"USSD"
    assert codec.decode(encoder.encode(4, "123", "998901234567", b"hi", 0, 0, 0)).service_type == b"CMT"


def test_service_type_ussd_alone_or_an_ussd_service_op_alone_marks_a_deliver_sm_as_ussd() -> None:
    by_type = deliver_from_pdu(codec.decode(_deliver()))
    by_op = deliver_from_pdu(codec.decode(_deliver(service_type="", ussd_service_op=18)))
    plain = deliver_from_pdu(codec.decode(_deliver(service_type="")))
    assert (is_ussd(by_type), is_ussd(by_op), is_ussd(plain)) == (True, True, False)


def test_a_pssr_indication_opens_a_session_with_the_code_dialled() -> None:
    request = read_request(deliver_from_pdu(codec.decode(_deliver(ussd_service_op=1, its_session_info=0x2A00))),
                           UssdOps())
    assert (request.opens, request.text, request.source, request.destination) == (True, "*123#", "998901234567",
                                                                                  "123")
    assert session_number(request.its_session_info) == 0x2A


def test_an_ussr_confirm_carries_the_subscribers_answer() -> None:
    request = read_request(deliver_from_pdu(codec.decode(_deliver(ussd_service_op=18, short_message=b"2"))),
                           UssdOps())
    assert (request.opens, request.text) == (False, "2")


def test_operators_op_codes_come_from_the_provider_config() -> None:
    ops = UssdOps.from_config(validate({"host": "h", "system_id": "s", "password": "p", "ussd_op_open": 0x20,
                                        "ussd_op_answer": 0x21}))
    deliver = deliver_from_pdu(codec.decode(_deliver(ussd_service_op=0x21, short_message=b"1")))
    assert read_request(deliver, ops).opens is False


def test_an_op_the_provider_does_not_use_is_refused_naming_the_op_and_the_configured_ones() -> None:
    deliver = deliver_from_pdu(codec.decode(_deliver(ussd_service_op=3)))
    with pytest.raises(UssdWireError, match=r"ussd_service_op 3 \(USSN request\).*opening op 1.*answer op 18"):
        read_request(deliver, UssdOps())


def test_a_session_opened_without_a_code_is_refused() -> None:
    deliver = deliver_from_pdu(codec.decode(_deliver(ussd_service_op=1, short_message=b"")))
    with pytest.raises(UssdWireError, match="without a code dialled"):
        read_request(deliver, UssdOps())


def test_a_screen_that_expects_an_answer_goes_as_ussr_request_echoing_its_session_info() -> None:
    assert answer_tlvs(UssdOps(), False, 0x2A02) == {"ussd_service_op": 2, "its_session_info": 0x2A02}


def test_the_last_screen_goes_as_pssr_response_with_the_end_of_session_flag() -> None:
    assert answer_tlvs(UssdOps(), True, 0x2A02) == {"ussd_service_op": 17, "its_session_info": 0x2A03}


def test_an_answer_without_its_session_info_carries_the_op_alone() -> None:
    assert answer_tlvs(UssdOps(), False, None) == {"ussd_service_op": 2}


def test_gsm_text_is_answered_in_the_providers_data_coding_and_other_text_in_ucs2() -> None:
    assert answer_body("1 Balance", 0) == (0, b"1 Balance")
    assert answer_body("1 Баланс", 0) == (8, "1 Баланс".encode("utf-16-be"))


def test_a_ussd_op_code_outside_one_octet_is_refused_naming_the_key() -> None:
    with pytest.raises(ValueError, match="'ussd_op_end' must be between 0 and 255"):
        validate({"host": "h", "system_id": "s", "password": "p", "ussd_op_end": 300})
