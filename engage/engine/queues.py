"""The names of the broker's queues, in one place."""

RECEIPTS = "engage.receipts"  # receipts and subscribers' MO messages from every provider


def send_queue(provider_id: int) -> str:
    """One queue per provider, so a slow provider never holds up another."""
    return f"engage.send.{provider_id}"
