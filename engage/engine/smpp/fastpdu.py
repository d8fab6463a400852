"""Hand-written encoding and decoding of the PDUs that travel once per message part.

smpplib builds a Python object through a chain of generic setattr/hasattr calls for every
PDU, which costs tens of microseconds: more than everything else on the submit path put
together. The PDUs that go by once per part (submit_sm, deliver_sm, their responses,
enquire_link, generic_nack, unbind) are laid out here directly with ``struct`` and byte
slicing; the rare ones (binds, data_sm, query_sm, ...) still go through smpplib in
:mod:`codec`. The decoded :class:`Pdu` reads like an smpplib object (same attribute names,
C-octet strings as ``bytes``, absent fields ``None``), so callers need not know which path
decoded it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from smpplib import command as _smpplib_command
from smpplib import consts
from smpplib.ptypes import flag, ostr

__all__ = ["COMMAND_IDS", "COMMAND_NAMES", "DECODERS", "Pdu", "SubmitEncoder", "encode_sm", "encode_tlvs",
           "header_only", "sm_resp"]

HEADER = struct.Struct(">LLLL")
_TLV_HEAD = struct.Struct(">HH")
_RESP_BIT = 0x80000000

GENERIC_NACK = 0x80000000
SUBMIT_SM, SUBMIT_SM_RESP = 0x00000004, 0x80000004
DELIVER_SM, DELIVER_SM_RESP = 0x00000005, 0x80000005
UNBIND, UNBIND_RESP = 0x00000006, 0x80000006
ENQUIRE_LINK, ENQUIRE_LINK_RESP = 0x00000015, 0x80000015

COMMAND_NAMES = {
    GENERIC_NACK: "generic_nack", SUBMIT_SM: "submit_sm", SUBMIT_SM_RESP: "submit_sm_resp",
    DELIVER_SM: "deliver_sm", DELIVER_SM_RESP: "deliver_sm_resp", UNBIND: "unbind", UNBIND_RESP: "unbind_resp",
    ENQUIRE_LINK: "enquire_link", ENQUIRE_LINK_RESP: "enquire_link_resp",
}
COMMAND_IDS = {name: code for code, name in COMMAND_NAMES.items()}

_SM_FIELDS = ("service_type", "source_addr_ton", "source_addr_npi", "source_addr", "dest_addr_ton",
              "dest_addr_npi", "destination_addr", "esm_class", "protocol_id", "priority_flag",
              "schedule_delivery_time", "validity_period", "registered_delivery", "replace_if_present_flag",
              "data_coding", "sm_default_msg_id", "sm_length", "short_message")


def _tlv_table() -> dict[str, tuple[int, type, int]]:
    """name -> (tag, type, size) for every optional parameter smpplib knows, on any command."""
    table: dict[str, tuple[int, type, int]] = {}
    for cls in vars(_smpplib_command).values():
        for name, param in getattr(cls, "params", {}).items():
            if name in consts.OPTIONAL_PARAMS and name not in table:
                table[name] = (consts.OPTIONAL_PARAMS[name], param.type, getattr(param, "size", 0))
    table["source_addr_subunit"] = (consts.OPTIONAL_PARAMS["source_addr_subunit"], int, 1)  # smpplib says 2
    return table


TLVS = _tlv_table()
_TLV_BY_TAG = {tag: (name, kind) for name, (tag, kind, _) in TLVS.items()}


class Pdu:
    """A decoded PDU: smpplib's attribute names, ``None`` for whatever the PDU did not carry."""

    message_id: Any = None
    system_id: Any = None

    def __init__(self, command_id: int, status: int, sequence: int) -> None:
        self.command_id = command_id
        self.command = COMMAND_NAMES[command_id]
        self.status = status
        self.sequence = sequence
        self.unknown_tlvs: dict[int, bytes] = {}

    def __repr__(self) -> str:
        return f"<Pdu {self.command} #{self.sequence} status={self.status:#x}>"


for _name in (*_SM_FIELDS, *TLVS):
    setattr(Pdu, _name, None)


def header_only(command_id: int, status: int, sequence: int) -> bytes:
    return HEADER.pack(16, command_id, status, sequence)


def sm_resp(command_id: int, sequence: int, status: int, message_id: str | None) -> bytes:
    """submit_sm_resp / deliver_sm_resp; an error submit_sm_resp goes header-only (SMPP 3.4 section 4)."""
    if status and command_id == SUBMIT_SM_RESP:
        return HEADER.pack(16, command_id, status, sequence)
    body = (message_id or "").encode("latin-1") + b"\0"
    return HEADER.pack(16 + len(body), command_id, status, sequence) + body


def encode_tlvs(tlvs: Mapping[str, Any]) -> bytes:
    """Optional parameters by smpplib name; ``None`` values are left out."""
    out = []
    for name, value in tlvs.items():
        if value is None:
            continue
        tag, kind, size = TLVS[name]
        if kind is int:
            data = int(value).to_bytes(size, "big")
        elif kind is str:
            data = (value.encode("latin-1") if isinstance(value, str) else bytes(value)) + b"\0"
        elif kind is flag:
            data = b""
        else:
            data = bytes(value)
        out.append(_TLV_HEAD.pack(tag, len(data)) + data)
    return b"".join(out)


def _octets(value: str | bytes | None) -> bytes:
    if not value:
        return b""
    return value.encode("latin-1") if isinstance(value, str) else bytes(value)


def encode_sm(command_id: int, sequence: int, fields: Mapping[str, Any], status: int = 0) -> bytes:
    """A submit_sm or deliver_sm from smpplib-named fields; the rest of ``fields`` become TLVs."""
    get = fields.get
    short_message = _octets(get("short_message"))
    body = b"".join((
        _octets(get("service_type")), b"\0",
        bytes((get("source_addr_ton") or 0, get("source_addr_npi") or 0)), _octets(get("source_addr")), b"\0",
        bytes((get("dest_addr_ton") or 0, get("dest_addr_npi") or 0)), _octets(get("destination_addr")), b"\0",
        bytes((get("esm_class") or 0, get("protocol_id") or 0, get("priority_flag") or 0)),
        _octets(get("schedule_delivery_time")), b"\0", _octets(get("validity_period")), b"\0",
        bytes((get("registered_delivery") or 0, get("replace_if_present_flag") or 0, get("data_coding") or 0,
               get("sm_default_msg_id") or 0, len(short_message))),
        short_message,
        encode_tlvs({k: v for k, v in fields.items() if k not in _SM_FIELD_SET}),
    ))
    return HEADER.pack(16 + len(body), command_id, status, sequence) + body


_SM_FIELD_SET = frozenset(_SM_FIELDS)


class SubmitEncoder:
    """submit_sm bytes for one bind: what never changes between parts (service type, TON/NPI) is
    laid out once, so a part costs one join and one pack."""

    def __init__(self, service_type: str, source_ton: int, source_npi: int, dest_ton: int, dest_npi: int) -> None:
        self._head = service_type.encode("latin-1") + b"\0" + bytes((source_ton, source_npi))
        self._dest_prefix = bytes((dest_ton, dest_npi))
        self._pack = HEADER.pack

    def encode(self, sequence: int, source: str, destination: str, short_message: bytes, data_coding: int,
               esm_class: int, registered_delivery: int, tlvs: bytes = b"",
               source_ton: int | None = None, source_npi: int | None = None,
               service_type: str | None = None) -> bytes:
        head = self._head if source_ton is None else self._head[:-2] + bytes((source_ton, source_npi or 0))
        if service_type is not None:  # a USSD answer's "USSD", not the bind's own
            head = service_type.encode("latin-1") + b"\0" + head[-2:]
        body = b"".join((head, source.encode("ascii"), b"\0", self._dest_prefix, destination.encode("ascii"),
                         bytes((0, esm_class, 0, 0, 0, 0, registered_delivery, 0, data_coding, 0,
                                len(short_message))),
                         short_message, tlvs))
        return self._pack(16 + len(body), SUBMIT_SM, 0, sequence) + body


def _decode_sm(data: bytes, command_id: int, status: int, sequence: int) -> Pdu:
    pdu = Pdu(command_id, status, sequence)
    find = data.index
    end = find(0, 16)
    pdu.service_type = data[16:end]
    pdu.source_addr_ton, pdu.source_addr_npi = data[end + 1], data[end + 2]
    pos = end + 3
    end = find(0, pos)
    pdu.source_addr = data[pos:end]
    pdu.dest_addr_ton, pdu.dest_addr_npi = data[end + 1], data[end + 2]
    pos = end + 3
    end = find(0, pos)
    pdu.destination_addr = data[pos:end]
    pdu.esm_class, pdu.protocol_id, pdu.priority_flag = data[end + 1], data[end + 2], data[end + 3]
    pos = end + 4
    end = find(0, pos)
    pdu.schedule_delivery_time = data[pos:end]
    pos = end + 1
    end = find(0, pos)
    pdu.validity_period = data[pos:end]
    pos = end + 1
    (pdu.registered_delivery, pdu.replace_if_present_flag, pdu.data_coding, pdu.sm_default_msg_id,
     length) = data[pos:pos + 5]
    pdu.sm_length = length
    pos += 5
    short_message = data[pos:pos + length]
    if len(short_message) != length:
        raise ValueError(f"sm_length {length} runs past the end of the PDU")
    pdu.short_message = short_message
    pos += length
    if pos < len(data):
        parse_tlvs(pdu, data, pos)
    return pdu


def parse_tlvs(pdu: Any, data: bytes, pos: int) -> None:
    """Optional parameters, read by their own length field so a surprise never derails the rest."""
    end = len(data)
    unpack = _TLV_HEAD.unpack_from
    while pos + 4 <= end:
        tag, length = unpack(data, pos)
        pos += 4
        value = data[pos:pos + length]
        pos += length
        known = _TLV_BY_TAG.get(tag)
        if known is None:
            pdu.unknown_tlvs[tag] = value
            continue
        name, kind = known
        if kind is int:
            setattr(pdu, name, int.from_bytes(value, "big"))
        elif kind is str:
            setattr(pdu, name, value.split(b"\0", 1)[0])
        elif kind is ostr:
            setattr(pdu, name, value)
        else:
            setattr(pdu, name, True)


def _decode_resp(data: bytes, command_id: int, status: int, sequence: int) -> Pdu:
    pdu = Pdu(command_id, status, sequence)
    if len(data) > 16:
        end = data.find(0, 16)
        pdu.message_id = data[16:end] if end >= 0 else data[16:]
    return pdu


def _decode_header(data: bytes, command_id: int, status: int, sequence: int) -> Pdu:
    return Pdu(command_id, status, sequence)


DECODERS: dict[int, Callable[[bytes, int, int, int], Pdu]] = {
    SUBMIT_SM: _decode_sm, DELIVER_SM: _decode_sm,
    SUBMIT_SM_RESP: _decode_resp, DELIVER_SM_RESP: _decode_resp,
    GENERIC_NACK: _decode_header, UNBIND: _decode_header, UNBIND_RESP: _decode_header,
    ENQUIRE_LINK: _decode_header, ENQUIRE_LINK_RESP: _decode_header,
}
