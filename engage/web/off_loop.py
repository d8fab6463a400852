"""Blocking work (a template render, a segment count, a database read that may take a while) runs
on a bounded pool of threads, never on Tornado's IO loop: one slow request must not hold up every
other one, sign-in pages included. The work itself must be bounded (render budgets, statement
timeouts): a thread cannot be stopped from outside, so the pool only keeps the loop free."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_POOL = ThreadPoolExecutor(max_workers=int(os.environ.get("ENGAGE_WEB_THREADS", "8")),
                           thread_name_prefix="engage-web")


async def off_loop(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on the web process's worker threads; its exception is raised here."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(fn, *args, **kwargs))
