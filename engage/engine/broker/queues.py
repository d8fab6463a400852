"""The names of the broker's queues, in one place.

ENGAGE_QUEUE_PREFIX namespaces them, so that two deployments (or two test runs) can share
one RabbitMQ without taking each other's work."""

import os


def prefix() -> str:
    return os.environ.get("ENGAGE_QUEUE_PREFIX", "engage")


def receipts_queue() -> str:
    """Receipts and subscribers' MO messages from every provider."""
    return f"{prefix()}.receipts"


def send_queue(provider_id: int) -> str:
    """One queue per provider, so a slow provider never holds up another."""
    return f"{prefix()}.send.{provider_id}"


def loyalty_usage_queue() -> str:
    """Usage batches (CDRs, recharges, purchases) for the loyalty worker to score."""
    return f"{prefix()}.loyalty.usage"
