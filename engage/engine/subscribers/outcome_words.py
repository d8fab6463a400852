"""What happened to a message, in words a marketer or a support agent can repeat to a customer.

The store keeps what the network said: a status ("undelivered"), a receipt's stat and err
("UNDELIV", "001") and the code a provider refused a message with ("smpp:0x0b", "http:403").
Those stay as they are (the pages put them in a tooltip, the API returns them), since a provider's
support desk asks for them; these functions only say them in words.

A receipt's err is the network's own code. SMPP leaves it to the SMSC; most quote the GSM network's
MAP error (3GPP TS 29.002) in decimal, which is what ERR_WORDS explains; a code outside it is said
to be the network's own, for the provider to explain."""

from __future__ import annotations

from engage.engine import statuses as st

STATUS_WORDS = {
    st.HELD: "Held until its send time",
    st.PENDING: "Waiting to be sent",
    st.QUEUED: "Queued to be sent",
    st.SENDING: "Being sent",
    st.SUBMITTED: "Sent, waiting for the network to confirm",
    st.DELIVERED: "Delivered",
    st.UNDELIVERED: "Not delivered",
    st.EXPIRED: "Not delivered in time (expired)",
    st.REJECTED: "Rejected by the network",
    st.FAILED: "Not sent",
    st.UNCONFIRMED: "Sent, never confirmed by the network",
    st.CANCELLED: "Cancelled before it was sent",
    st.OPTED_OUT: "Not sent: the subscriber had opted out",
    st.CONTROL: "Not sent: in the campaign's control group",
}

# SMPP 3.4 appendix B: the receipt's stat
STAT_WORDS = {
    "DELIVRD": "Delivered",
    "UNDELIV": "Not delivered",
    "EXPIRED": "Expired: the phone could not be reached in time",
    "REJECTD": "Rejected by the network",
    "DELETED": "Deleted by the network before it was delivered",
    "ACCEPTD": "Accepted by the network",
    "ENROUTE": "On its way",
    "UNKNOWN": "The network does not know what became of it",
}

NO_ERROR = 0
ERR_WORDS = {
    1: "the number is not in service",
    5: "the network could not find the phone",
    6: "the phone was switched off or out of coverage",
    9: "the number may not receive messages",
    11: "the number's plan does not include SMS",
    12: "the phone is barred from the network",
    13: "messages to this number are barred",
    21: "the network does not offer this service",
    27: "the phone was switched off or out of coverage",
    31: "the phone was busy",
    32: "the phone could not take the message (its memory may be full)",
    33: "the phone has too many messages waiting",
    34: "the network failed",
    35: "the network lacked data it needed",
    36: "the network was sent a value it did not expect",
}

# SMPP 3.4 section 5.1.3: the command_status a provider refuses a submit_sm with
SMPP_WORDS = {
    0x01: "the message was too long for the provider",
    0x08: "the provider had a system error",
    0x0A: "the provider refused the sender name",
    0x0B: "the provider refused the number",
    0x14: "the provider's queue was full",
    0x45: "the provider refused the message",
    0x48: "the provider refused the sender name's type", 0x49: "the provider refused the sender name's type",
    0x50: "the provider refused the number's type", 0x51: "the provider refused the number's type",
    0x58: "the provider said engage was sending too fast",
    0x61: "the provider refused the scheduled time", 0x62: "the provider refused the validity period",
    0x64: "the provider had a temporary error", 0x65: "the provider refused it for good",
    0x66: "the provider rejected the message", 0xFE: "the provider could not deliver it",
    0xFF: "the provider had an unknown error",
}

OTHER_WORDS = {
    "smpp:timeout": "the provider did not answer in time",
    "smpp:connection": "the connection to the provider was lost",
    "smpp:no-message-id": "the provider took it without an id to follow it by",
    "http:timeout": "the provider did not answer in time",
    "http:connection": "engage could not reach the provider",
    "http:unknown": "the provider's answer could not be read",
    "http:429": "the provider said engage was sending too fast",
    "kannel:split": "the gateway split the message differently than engage did",
}


def status_words(status: str | None) -> str:
    """A message's status in words; one engage does not know is shown as it is."""
    return STATUS_WORDS.get(status or "", status or "")


def stat_words(stat: str | None) -> str:
    """A receipt's stat in words ("DELIVRD": "Delivered")."""
    word = (stat or "").strip().upper()
    return STAT_WORDS.get(word, f"The network said {stat!r}" if word else "No outcome given")


def error_words(error: str | None) -> str | None:
    """Why a message was not delivered or not sent, in words; None when there was no error
    (a receipt's "000"). Codes with no words of their own are named with who can explain them."""
    code = (error or "").strip()
    if not code:
        return None
    if code.isdigit():
        number = int(code)
        if number == NO_ERROR:
            return None
        return ERR_WORDS.get(number, f"the network's error {code} (the provider can say what it means)")
    if code in OTHER_WORDS:
        return OTHER_WORDS[code]
    kind, _, detail = code.partition(":")
    if kind == "smpp" and detail.startswith("0x"):
        try:
            status = int(detail, 16)
        except ValueError:
            status = -1
        return SMPP_WORDS.get(status, f"the provider refused it (SMPP error {detail})")
    if kind == "http" and detail.isdigit():
        if detail.startswith("5"):
            return f"the provider had an error (HTTP {detail})"
        return f"the provider refused it (HTTP {detail})"
    if kind == "kannel" and detail:
        return f"the gateway refused it (Kannel status {detail})"
    return code  # engage's own reasons are words already ("opted out", "provider down")


def message_words(status: str | None, error: str | None) -> str:
    """A message's status with its reason: "Not delivered: the phone was switched off or out of coverage"."""
    words, reason = status_words(status), error_words(error)
    return f"{words}: {reason}" if reason and reason.lower() not in words.lower() else words


def receipt_words(stat: str | None, err: str | None) -> str:
    """A receipt in words: "Delivered", "Not delivered: the number is not in service"."""
    reason = error_words(err)
    return f"{stat_words(stat)}: {reason}" if reason else stat_words(stat)


def raw_code(status: str | None, error: str | None) -> str:
    """What the network said, as it said it, for a tooltip and a provider's support desk."""
    return f"{status} (error {error})" if error else str(status or "")
