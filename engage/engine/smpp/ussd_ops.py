"""USSD over SMPP 3.4, on the wire: which deliver_sm are USSD, what they ask, and the TLVs of the
submit_sm that answers them.

An SMSC that carries USSD marks its deliver_sm with ``service_type`` "USSD" or an
``ussd_service_op`` TLV (0x0501). SMPP 3.4 section 5.3.2.44 numbers the operations; the ones a
menu needs are 1 (PSSR indication: the subscriber dialled a code, which is the short_message),
18 (USSR confirm: the subscriber's answer to our last screen), and for the answers 2 (USSR
request: a screen that expects an answer) and 17 (PSSR response: the last screen). Operators
differ on these numbers, so each is a provider config key (:class:`UssdOps`).

``its_session_info`` (0x1383, section 5.3.2.43) is two octets: the session number, then the
dialogue's sequence number in bits 7..1 and the end-of-session flag in bit 0. An answer echoes
it with the end flag set on the last screen, which is how an SMSC that numbers sessions this way
learns the session is over. This module knows nothing of menus: :mod:`engage.engine.ussd`
turns a :class:`UssdRequest` into a hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engage.engine.smpp.client_types import DeliverSm
from engage.engine.smpp.longsms import DATA_CODINGS, UCS2, decode_text, gsm7_septets

__all__ = ["OP_NAMES", "UssdOps", "UssdRequest", "UssdWireError", "answer_body", "answer_tlvs", "is_ussd",
           "read_request", "session_number"]

# SMPP 3.4 section 5.3.2.44
OP_NAMES = {0: "PSSD indication", 1: "PSSR indication", 2: "USSR request", 3: "USSN request",
            16: "PSSD response", 17: "PSSR response", 18: "USSR confirm", 19: "USSN confirm"}
SHORT_MESSAGE_MAX = 254  # octets; a longer answer goes in message_payload
END_OF_SESSION = 0x01  # its_session_info, second octet, bit 0


class UssdWireError(ValueError):
    """A USSD deliver_sm engage cannot read: the message names the field and its value."""


@dataclass(frozen=True)
class UssdOps:
    """The ussd_service_op values one provider's SMSC uses, and the service_type of the answers."""

    opens: int = 1  # PSSR indication: a session begins with the code dialled
    answers: int = 18  # USSR confirm: the subscriber answered the last screen
    asks: int = 2  # USSR request: our screen, expecting an answer
    ends: int = 17  # PSSR response: our last screen
    service_type: str = "USSD"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> UssdOps:
        """From an SMPP provider's config keys ussd_op_open, ussd_op_answer, ussd_op_continue,
        ussd_op_end and ussd_service_type (validated by engage.engine.smpp.settings)."""
        base = cls()
        return cls(opens=config.get("ussd_op_open", base.opens), answers=config.get("ussd_op_answer", base.answers),
                   asks=config.get("ussd_op_continue", base.asks), ends=config.get("ussd_op_end", base.ends),
                   service_type=config.get("ussd_service_type", base.service_type))


@dataclass(frozen=True)
class UssdRequest:
    """One USSD deliver_sm, read: who, to which address, whether it opens a session, and its text."""

    source: str  # the subscriber, as the SMSC gave it (digits, no "+")
    destination: str  # the service address the SMSC delivered to
    opens: bool  # True: ``text`` is the code dialled; False: ``text`` is the answer to the last screen
    text: str
    its_session_info: int | None  # as received, echoed in the answer
    user_message_reference: int | None  # the SMSC's number for this request, when it gives one


def is_ussd(deliver: DeliverSm) -> bool:
    """USSD, not a receipt nor an SMS: marked so by service_type or by an ussd_service_op."""
    return deliver.ussd_service_op is not None or (bool(deliver.service_type)
                                                   and deliver.service_type.strip().upper() == "USSD")


def read_request(deliver: DeliverSm, ops: UssdOps) -> UssdRequest:
    """The request a USSD deliver_sm carries, or UssdWireError naming what is wrong with it."""
    op = deliver.ussd_service_op
    text = decode_text(deliver.message_payload or deliver.short_message, deliver.data_coding).strip("\0")
    if op is None:  # service_type USSD alone: a dialled code looks like one
        opens = text.startswith("*") and text.endswith("#")
    elif op == ops.opens:
        opens = True
    elif op == ops.answers:
        opens = False
    else:
        raise UssdWireError(f"deliver_sm from {deliver.source_addr or '?'}: ussd_service_op {op}"
                            f" ({OP_NAMES.get(op, 'unknown')}) is neither the opening op {ops.opens} nor the"
                            f" answer op {ops.answers} this provider is configured with")
    if not deliver.source_addr:
        raise UssdWireError("USSD deliver_sm without a source_addr: no subscriber to answer")
    if opens and not text:
        raise UssdWireError(f"USSD deliver_sm from {deliver.source_addr} opens a session without a code dialled"
                            " (empty short_message)")
    return UssdRequest(source=deliver.source_addr, destination=deliver.destination_addr, opens=opens, text=text,
                       its_session_info=deliver.its_session_info,
                       user_message_reference=deliver.user_message_reference)


def session_number(its_session_info: int | None) -> int | None:
    """The session number (first octet) of its_session_info, or None without one."""
    return None if its_session_info is None else (its_session_info >> 8) & 0xFF


def answer_tlvs(ops: UssdOps, ends: bool, its_session_info: int | None) -> dict[str, int]:
    """The submit_sm TLVs of an answer: the op (ask or end), and its_session_info echoed with
    the end-of-session flag set on the last screen."""
    tlvs = {"ussd_service_op": ops.ends if ends else ops.asks}
    if its_session_info is not None:
        info = its_session_info & 0xFFFE
        tlvs["its_session_info"] = info | END_OF_SESSION if ends else info
    return tlvs


def answer_body(text: str, data_coding: int = 0) -> tuple[int, bytes]:
    """(data_coding, octets) of an answer: GSM 03.38 text in the provider's data coding (0, 1 or
    3), anything else UCS-2 (8)."""
    septets = gsm7_septets(text)
    if septets is not None:
        charset = DATA_CODINGS.get(data_coding)
        if charset is None:
            return data_coding if data_coding in DATA_CODINGS else 0, septets
        try:
            return data_coding, text.encode(charset)
        except UnicodeEncodeError:
            pass
    return UCS2, text.encode("utf-16-be")
