"""What an ESME session deals in: its config, the outcome of a submit, a delivery from the
SMSC, and the ways a session fails. Kept apart from :mod:`client` so the provider, the receipt
parser and tests can use them without the transport."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from smpplib import consts

from engage.engine.smpp import codec

__all__ = ["BIND_MODES", "BindError", "DeliverSm", "OnDeliver", "OnDeliveries", "ResponseTimeout",
           "SmppConfig", "SmppConnectionError", "SmppError", "SubmitResult", "SubmitTimeout", "deliver_from_pdu"]

BIND_MODES = ("transceiver", "transmitter", "receiver")


class SmppError(Exception):
    """Base for SMPP session failures."""


class BindError(SmppError):
    """The SMSC refused the bind; ``status`` is its command_status (e.g. 0x0E bad password)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused with status {status:#04x}: {consts.DESCRIPTIONS.get(status, '?')}")
        self.status = status


class SmppConnectionError(SmppError, ConnectionError):
    """The session is gone (or never was); whatever was in flight has unknown outcome."""


class ResponseTimeout(SmppError, TimeoutError):
    """The SMSC did not answer a request within ``response_timeout``."""


class SubmitTimeout(ResponseTimeout):
    """No submit_sm_resp in time: the message may or may not have been accepted."""


@dataclass
class SmppConfig:
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    bind_mode: str = "transceiver"
    window: int = 10
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    source_ton: int = 5
    source_npi: int = 0
    dest_ton: int = 1
    dest_npi: int = 1
    service_type: str = ""

    def __post_init__(self) -> None:
        if self.bind_mode not in BIND_MODES:
            raise ValueError(f"bind_mode must be one of {BIND_MODES}, not {self.bind_mode!r}")
        if self.window < 1:
            raise ValueError("window must be at least 1")


@dataclass
class SubmitResult:
    status: int
    message_id: str | None


@dataclass
class DeliverSm:
    source_addr: str
    destination_addr: str
    esm_class: int
    data_coding: int
    short_message: bytes
    receipted_message_id: str | None
    message_state: int | None
    network_error_code: bytes | None
    sar: tuple[int, int, int] | None
    message_payload: bytes | None
    unknown_tlvs: dict[int, bytes] = field(default_factory=dict)  # vendor TLVs, by tag
    # USSD over SMPP (engine/smpp/ussd_ops.py): "USSD" here or an ussd_service_op makes it a USSD hop
    service_type: str = ""
    ussd_service_op: int | None = None  # 0x0501, 1 octet: 1 PSSR indication, 18 USSR confirm, ...
    its_session_info: int | None = None  # 0x1383, 2 octets: session number << 8 | sequence << 1 | end bit
    user_message_reference: int | None = None  # 0x0204: some USSD gateways number their requests with it


OnDeliver = Callable[[DeliverSm], Awaitable[None]]
# All the deliveries that arrived together -> one command_status per delivery (0: taken).
OnDeliveries = Callable[[list[DeliverSm]], Awaitable[list[int]]]


def deliver_from_pdu(pdu: Any) -> DeliverSm:
    """Flatten a decoded deliver_sm into plain Python values."""
    ref, total, seq = pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum
    sar = (ref, total, seq) if None not in (ref, total, seq) else None
    return DeliverSm(
        source_addr=codec.as_str(pdu.source_addr),
        destination_addr=codec.as_str(pdu.destination_addr),
        esm_class=pdu.esm_class or 0,
        data_coding=pdu.data_coding or 0,
        short_message=pdu.short_message or b"",
        receipted_message_id=codec.opt_str(pdu.receipted_message_id),
        message_state=pdu.message_state,
        network_error_code=pdu.network_error_code or None,
        sar=sar,
        message_payload=pdu.message_payload or None,
        unknown_tlvs=dict(getattr(pdu, "unknown_tlvs", None) or {}),
        service_type=codec.as_str(pdu.service_type),
        ussd_service_op=pdu.ussd_service_op,
        its_session_info=pdu.its_session_info,
        user_message_reference=pdu.user_message_reference,
    )
