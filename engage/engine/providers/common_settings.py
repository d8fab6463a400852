"""Settings every provider has, whatever its kind: stored in the provider's config beside the kind's
own keys, checked here (providers.records) and taken out before the kind sees its config, so that a
kind neither knows nor refuses them and adding one touches no kind.

receipt_timeout (seconds): how long a submitted message waits for its delivery receipt before it
is `unconfirmed` (receipts.timeouts): real SMSCs lose receipts, and a gateway may report an outcome
engage cannot read, and a message must not keep its campaign running forever. engage sets no
validity_period on its submits, so the SMSC keeps an undeliverable message for its own default
validity, commonly 48 hours, and then sends an EXPIRED receipt; the default waits that long plus an
hour for that last receipt to arrive. A provider whose SMSC keeps messages longer (or shorter), or
which sends no receipts at all, sets its own.
"""

from __future__ import annotations

from typing import Any

VALIDITY_DEFAULT = 48 * 3600  # s: the usual SMSC validity when the submit gives none
RECEIPT_MARGIN = 3600  # s: for the EXPIRED receipt sent at the end of the validity to reach us
DEFAULT_RECEIPT_TIMEOUT = VALIDITY_DEFAULT + RECEIPT_MARGIN
MAX_RECEIPT_TIMEOUT = 30 * 86_400  # s: an SMSC keeps a message a week at most; a month is a typo's bound

COMMON_KEYS = ("receipt_timeout",)


def split(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the common settings, the kind's own config)."""
    return ({k: v for k, v in config.items() if k in COMMON_KEYS},
            {k: v for k, v in config.items() if k not in COMMON_KEYS})


def kind_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config as the kind knows it: the common settings left out."""
    return split(config)[1]


def checked(common: dict[str, Any]) -> dict[str, Any]:
    """The common settings as stored, or ValueError naming the field."""
    out = dict(common)
    if "receipt_timeout" in common:
        value = common["receipt_timeout"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= MAX_RECEIPT_TIMEOUT:
            raise ValueError(f"receipt_timeout: seconds a submitted message waits for its receipt, from 1 to "
                             f"{MAX_RECEIPT_TIMEOUT:,} (30 days), not {value!r}; default "
                             f"{DEFAULT_RECEIPT_TIMEOUT:,} (48 h validity + 1 h)")
    return out


def receipt_timeout(config: dict[str, Any] | None) -> float:
    """Seconds this provider's submitted messages wait for a receipt; a stored value that is not a
    number in range (written around validation) counts as the default, never as zero."""
    value = (config or {}).get("receipt_timeout")
    try:
        checked({"receipt_timeout": value})
    except ValueError:
        return float(DEFAULT_RECEIPT_TIMEOUT)
    return float(value)
