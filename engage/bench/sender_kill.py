"""`engage bench send --kill-sender-at F`: the send worker is killed with SIGKILL once the SMSC
simulators have accepted that share of the recipients, and a new one is started at once.

What the run then reports says what a crash costs: ``lost`` (must be 0: the sweeper gives the dead
sender's claimed batches back after the send lease) and ``duplicates``, the submits the simulators
accepted twice, against ``duplicate_bound``, what the sender may have sent without having recorded
it: providers x binds x window (engine/delivery/recorder.py). The run lasts at least the send lease
(ENGAGE_SEND_LEASE) longer, the time the sweeper leaves a claimed batch to its sender.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engage import config

ACTIVE_LOOK = 0.002  # seconds between looks at the accepted count, for a moment when the sender sends
ACTIVE_WAIT = 30.0  # seconds the kill waits for such a moment at most


class KillNeedsProcesses(ValueError):
    """The in-process broker runs the workers as threads of the bench: there is no process to kill."""


def check_can_kill(settings: config.Settings, use_configured: bool) -> None:
    if use_configured:
        raise KillNeedsProcesses("--kill-sender-at needs the built-in SMSC simulators (they count what was accepted "
                                 "twice); leave out --use-configured")
    if settings.broker_url.startswith("memory"):
        raise KillNeedsProcesses("--kill-sender-at needs the workers as processes: set ENGAGE_BROKER_URL to a "
                                 "RabbitMQ (amqp://...); the in-process broker runs them as threads of the bench")


def stall_timeout(settings: config.Settings, asked: float) -> float:
    """Long enough for the sweeper to take the dead sender's batches back (the lease, its next sweep)
    before what is not final counts as lost."""
    return max(asked, settings.send_lease + 30.0)


def kill_hard(proc: subprocess.Popen) -> None:
    """SIGKILL: the worker gets no chance to record or hand back what it has in flight."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@dataclass
class SenderKill:
    """Watches the accepted count and kills the sender once, at ``at`` of ``total``, at a moment
    when it is sending: a sender caught idle between batches (waiting for the dispatcher) has
    nothing in flight, and its kill would show nothing."""

    at: float  # share of the recipients accepted by the simulators
    total: int
    bound: int  # providers x binds x window
    accepted: Callable[[], int]  # what the simulators have accepted so far
    kill_and_restart: Callable[[], None]
    killed_at_accepted: int | None = None

    def watch(self) -> None:
        if self.killed_at_accepted is not None or self.accepted() < self.at * self.total:
            return
        before, deadline = self.accepted(), time.monotonic() + ACTIVE_WAIT
        while (now := self.accepted()) == before and time.monotonic() < deadline:
            time.sleep(ACTIVE_LOOK)  # the bench's own pacing: this is no test
        self.kill_and_restart()
        self.killed_at_accepted = now

    def report(self) -> dict[str, Any]:
        return {"sender_killed_at_accepted": self.killed_at_accepted, "duplicate_bound": self.bound}
