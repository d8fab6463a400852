"""A server command started on a port another process holds says so in one line and exits non-zero:
no traceback, and no address printed as if it served there."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def run_engage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """`engage ARGS` with only the ENGAGE_* settings given (none from the test run's environment)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGE_")}
    return subprocess.run([sys.executable, "-m", "engage.cli", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_serve_on_a_busy_port_says_so_in_one_line(taken_port, tmp_path):
    done = run_engage(["serve", "--port", str(taken_port)],
                      {"ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'engage.db'}", "ENGAGE_HOME": str(tmp_path)})

    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{taken_port}: address already in use"
        " (another process listens there: stop it or choose another --port)"], done.stderr
    assert "http://" not in done.stdout


def test_the_smsc_simulator_on_a_busy_port_says_so_in_one_line(taken_port):
    done = run_engage(["smsc-sim", "--port", str(taken_port)], {})

    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{taken_port}: address already in use"], done.stderr


def test_the_demo_on_a_busy_port_says_so_before_it_starts(taken_port, tmp_path):
    done = run_engage(["demo", "--port", str(taken_port)], {"ENGAGE_HOME": str(tmp_path)})

    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{taken_port}: address already in use"
        " (another process listens there: stop it or choose another --port)"], done.stderr
    assert not (tmp_path / "demo.db").exists()
