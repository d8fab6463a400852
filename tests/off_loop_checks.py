"""What the specs of "slow work runs off the IO loop" share: a signal when the slow work has begun,
the request run beside the test, and the sign-in page asked meanwhile."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def signal_on_call(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> threading.Event:
    """An event set whenever ``owner.name`` is called (which then runs as it would)."""
    called = threading.Event()
    original = getattr(owner, name)

    def noting(*args: Any, **kwargs: Any) -> Any:
        called.set()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, noting)
    return called


@contextmanager
def in_background(request: Callable[[], Any]) -> Iterator[list[Any]]:
    """``request()`` on a thread of its own; the list holds its answer once the block is left."""
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(request()))
    thread.start()
    try:
        yield answers
    finally:
        thread.join(timeout=60)


def assert_sign_in_answers_at_once(base: str, *, held: list[Any] | None = None) -> None:
    """The sign-in page answers while the slow work runs. ``held``: the slow request's answers, for
    work a lock holds until after this check (it cannot end by itself): the page must answer while
    that request is still unanswered, whatever the time it takes on a busy machine. Without it, the
    slow work ends by itself in a second or more, so the page must answer within half of one."""
    started = time.perf_counter()
    with urllib.request.urlopen(base + "/login", timeout=10) as response:
        assert response.status == 200
    if held is not None:
        assert held == [], "the sign-in page answered only after the slow request"
    else:
        assert time.perf_counter() - started < 0.5
