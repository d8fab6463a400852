"""Python's cycle collector, set for a process that moves thousands of messages a second.

With the defaults, a collection of the young generation runs every 700 new container objects
(each message makes several: its row, its dict, its JSON), and every tenth of those walks the
middle generation, and so on up to the whole heap: every module, SQLAlchemy's caches, the
simulator's log. `engage bench send` at 400,000 messages measured it (perf, the whole machine):
10% of all CPU time went to the collector; 4% once the objects of start-up were frozen out of it,
and 1.5% with the thresholds below as well. Cycles are still collected, only in larger batches:
peak memory of the workers stayed within a few MB of the defaults'.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # new container objects between collections of the young generation
OLDER_THRESHOLDS = (10, 10)  # as Python's defaults: each older generation every tenth of the younger's


def settle_for_throughput() -> None:
    """Call once start-up is done (modules imported, settings read): what exists by then lives as
    long as the process, so it leaves the collector's walk, and collections come less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
