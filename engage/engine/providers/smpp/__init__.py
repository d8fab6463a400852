"""The SMPP provider kind: binds, window and pacing to send (provider.py), and the receipts and
subscribers' messages that come back on the same binds (receipts.py). Importing it registers "smpp"."""

from engage.engine.providers.smpp.provider import SmppProvider
from engage.engine.providers.smpp.receipts import read_receipt

__all__ = ["SmppProvider", "read_receipt"]
