"""Which rows a long file has given before, chunk by chunk, in 8 bytes a row: each row's key is
hashed to 64 bits and kept in sorted numpy arrays whose sizes double (merged as they fill, so each
key is re-sorted only log n times), where a Python set of them would take some 70 bytes a row.
Two different rows sharing a 64-bit hash (about one chance in 10^6 for ten million rows) would
count as one: the price of a CDR file of tens of millions of events fitting in memory."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


class Seen:
    def __init__(self) -> None:
        self._levels: list[np.ndarray] = []  # sorted, unique, largest first

    def first_times(self, keys: Sequence[Hashable]) -> list[bool]:
        """For each key, whether this is its first time: not given in an earlier call, nor earlier in
        this one. The keys are remembered."""
        hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
        unique, first = np.unique(hashes, return_index=True)
        new = np.ones(len(unique), dtype=bool)
        for level in self._levels:
            at = np.searchsorted(level, unique)
            found = at < len(level)
            found[found] = level[at[found]] == unique[found]
            new &= ~found
        fresh = np.zeros(len(keys), dtype=bool)
        fresh[first[new]] = True
        self._remember(unique[new])
        return fresh.tolist()

    def _remember(self, hashes: np.ndarray) -> None:
        levels = self._levels
        while levels and len(levels[-1]) <= len(hashes):
            hashes = np.union1d(levels.pop(), hashes)
        if len(hashes):
            levels.append(hashes)
