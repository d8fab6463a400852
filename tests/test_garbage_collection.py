"""The long-running commands set Python's cycle collector for throughput; each check runs in a
fresh interpreter, as the commands do, so this test process keeps its own collector."""

from __future__ import annotations

import json
import subprocess
import sys

SETTLED = """
import gc, json, weakref
from engage.cli.garbage_collection import settle_for_throughput
before = gc.get_freeze_count()
settle_for_throughput()
class Node: pass
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
del a, b
collected = gc.collect()
print(json.dumps({"threshold": gc.get_threshold(), "frozen_before": before, "frozen": gc.get_freeze_count(),
                  "cycle_collected": gone() is None}))
"""


def _settled() -> dict:
    out = subprocess.run([sys.executable, "-c", SETTLED], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_start_up_objects_leave_the_collectors_walk() -> None:
    state = _settled()
    assert state["frozen_before"] == 0
    assert state["frozen"] > 1000


def test_young_collections_come_every_ten_thousand_new_objects() -> None:
    assert _settled()["threshold"] == [10_000, 10, 10]


def test_cycles_made_after_start_up_are_still_collected() -> None:
    assert _settled()["cycle_collected"] is True
