"""SMPP 3.4 PDU framing and codec on top of smpplib.

smpplib does the byte layout of every PDU; this module fixes the places where its
defaults bite an asyncio engine that talks to real SMSCs:

* an optional parameter smpplib does not expect on a given command (a vendor TLV, or
  a standard one such as ``ussd_service_op`` on a deliver_sm) would raise ``KeyError``
  deep in the parser; here a standard one is read whatever the command, and a vendor one
  is skipped and kept in ``pdu.unknown_tlvs``;
* error responses are sent header-only, as SMPP 3.4 section 4 requires, and such
  header-only responses decode without complaint;
* ``make_pdu(..., sequence=n)`` silently ignores ``n``; :func:`make` honours it;
* parsed string fields are ``bytes``; :func:`as_str` / :func:`opt_str` turn them into text;
* the PDUs that go by once per message part are decoded by hand in :mod:`fastpdu`, many
  times faster than smpplib's generic machinery; every decoded PDU has ``command_id``.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from smpplib import command, command_codes, consts, smpp
from smpplib.exceptions import UnknownCommandError

from engage.engine.smpp import fastpdu

__all__ = [
    "MAX_PDU_LENGTH",
    "MIN_PDU_LENGTH",
    "SUBMIT_SM_TLVS",
    "DecodeError",
    "FramingError",
    "PduError",
    "SequenceSource",
    "as_str",
    "decode",
    "encode",
    "make",
    "opt_str",
    "read_pdu",
]

MIN_PDU_LENGTH = 16
MAX_PDU_LENGTH = 64 * 1024
MAX_SEQUENCE = 0x7FFFFFFF

_HEADER = fastpdu.HEADER
_FAST = fastpdu.DECODERS

# Optional parameters smpplib can put on a submit_sm.
SUBMIT_SM_TLVS = frozenset(name for name in command.SubmitSM.params if name in consts.OPTIONAL_PARAMS)

# Responses whose body SMPP 3.4 says is omitted when command_status is non-zero.
_BODYLESS_ON_ERROR = frozenset(
    {
        "submit_sm_resp",
        "data_sm_resp",
        "query_sm_resp",
        "bind_transmitter_resp",
        "bind_receiver_resp",
        "bind_transceiver_resp",
    }
)


class PduError(ValueError):
    """Base for anything wrong with bytes received from the peer."""


class FramingError(PduError):
    """The byte stream cannot be trusted any more; the connection must be dropped."""


class DecodeError(PduError):
    """One PDU could not be decoded, but framing is intact: answer generic_nack and go on.

    ``nack_status`` is the command_status to put in that generic_nack.
    """

    def __init__(self, message: str, *, command_id: int, sequence: int, nack_status: int) -> None:
        super().__init__(message)
        self.command_id = command_id
        self.sequence = sequence
        self.nack_status = nack_status


class SequenceSource:
    """Sequence numbers for one SMPP session, usable as smpplib's ``client=`` argument.

    SMPP allows 0x00000001..0x7FFFFFFF; after the top it starts over at 1.
    """

    def __init__(self, start: int = 1) -> None:
        if not 1 <= start <= MAX_SEQUENCE:
            raise ValueError(f"sequence start {start} outside 1..{MAX_SEQUENCE:#x}")
        self.sequence = start - 1

    def next_sequence(self) -> int:
        self.sequence = self.sequence + 1 if self.sequence < MAX_SEQUENCE else 1
        return self.sequence


def make(command_name: str, *, sequence: int, status: int = consts.SMPP_ESME_ROK, **fields: Any) -> Any:
    """Build a PDU with an explicit sequence number (smpplib drops a ``sequence=`` kwarg)."""
    pdu = smpp.make_pdu(command_name, sequence=sequence, status=status, **fields)
    pdu.sequence = sequence
    pdu.status = status
    return pdu


def encode(pdu: Any) -> bytes:
    """Serialise a PDU; error responses go out header-only as SMPP 3.4 prescribes."""
    if pdu.status and pdu.command in _BODYLESS_ON_ERROR:
        code = command_codes.get_command_code(pdu.command)
        return _HEADER.pack(MIN_PDU_LENGTH, code, pdu.status, pdu.sequence)
    return pdu.generate()


def decode(data: bytes) -> Any:
    """Turn one complete PDU (header included) into an smpplib command object.

    Raises :class:`DecodeError` for an unsupported command or a body that does not
    parse; unknown or unexpected optional parameters never raise.
    """
    if len(data) < MIN_PDU_LENGTH:
        raise FramingError(f"PDU of {len(data)} bytes is shorter than the 16-byte header")
    length, command_id, status, sequence = _HEADER.unpack_from(data)
    if length < len(data):
        data = data[:length]
    fast = _FAST.get(command_id)
    try:
        if fast is not None:
            return fast(data, command_id, status, sequence)
        try:
            name = command_codes.get_command_name(command_id)
            pdu = smpp.make_pdu(name, sequence=sequence, allow_unknown_opt_params=True)
        except UnknownCommandError as exc:
            raise DecodeError(
                f"unsupported command_id {command_id:#010x}",
                command_id=command_id,
                sequence=sequence,
                nack_status=consts.SMPP_ESME_RINVCMDID,
            ) from exc
        pdu.unknown_tlvs = {}
        # Instance attribute shadows smpplib's method: parse_params() calls self.parse_optional_params().
        pdu.parse_optional_params = lambda body: fastpdu.parse_tlvs(pdu, body, 0)
        pdu.parse(data)
    except DecodeError:
        raise
    except (struct.error, IndexError, ValueError, TypeError) as exc:
        raise DecodeError(
            f"malformed {command_codes.get_command_name(command_id)} body: {exc}",
            command_id=command_id,
            sequence=sequence,
            nack_status=consts.SMPP_ESME_RINVCMDLEN,
        ) from exc
    pdu.status = status
    pdu.sequence = sequence
    pdu.command_id = command_id
    return pdu


async def read_pdu(reader: asyncio.StreamReader) -> Any | None:
    """Read and decode the next PDU; ``None`` when the peer closed cleanly between PDUs.

    Raises :class:`FramingError` when the length prefix is absurd or the stream ends
    mid-PDU, and :class:`DecodeError` when only this PDU is bad.
    """
    try:
        prefix = await reader.readexactly(4)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise FramingError("connection closed inside a PDU length prefix") from exc
    (length,) = struct.unpack(">L", prefix)
    if length < MIN_PDU_LENGTH or length > MAX_PDU_LENGTH:
        raise FramingError(
            f"command_length {length} outside {MIN_PDU_LENGTH}..{MAX_PDU_LENGTH}:"
            " the stream is not SMPP or is corrupt"
        )
    try:
        rest = await reader.readexactly(length - 4)
    except asyncio.IncompleteReadError as exc:
        raise FramingError(f"connection closed after {4 + len(exc.partial)} of {length} PDU bytes") from exc
    return decode(prefix + rest)


def as_str(value: bytes | str | None) -> str:
    """smpplib leaves C-octet strings as bytes after parsing; SMPP addresses and ids are ASCII."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.decode("latin-1")


def opt_str(value: bytes | str | None) -> str | None:
    """Like :func:`as_str`, but absent or empty stays ``None``."""
    text = as_str(value)
    return text or None

