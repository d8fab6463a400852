"""Bounds on a segment definition, checked before any of it is compiled, so that no definition can
make the compiler recurse past Python's stack, send PostgreSQL more bind parameters than it takes
(65,535), give SQLite an expression deeper than it parses (1,000), or hold a web thread for minutes.

The walk is iterative: a definition nested 100,000 deep is refused at the first level past the limit,
without recursion. An included segment (in_segment) is admitted into the same Budget as the tree
including it, one level below its in_segment criterion, so the bounds hold for what is compiled, not
for each saved piece alone. Each refusal is a SegmentError at the path of what passes the limit (the
depth, a list) or of the definition being admitted (the totals)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engage.engine import json_input
from engage.engine.segments.errors import SegmentError

MAX_BYTES = 64 * 1024  # of the definition as compact JSON, included segments' added
MAX_DEPTH = 16  # levels of groups; a segment included by in_segment sits one level below its criterion
MAX_CRITERIA = 200  # criteria and groups
MAX_LIST = 500  # items of one list parameter: an OR of that many LIKEs stays well within SQLite's depth
MAX_COST = 5_000  # criteria, groups and every value they hold: what the query tests for each subscriber
GROUPS = ("and", "or", "not")


@dataclass
class Budget:
    """What the definitions admitted so far (a tree and the segments it includes) have used."""

    criteria: int = 0
    cost: int = 0
    size: int = 0

    def admit(self, definition: Any, path: str, depth: int) -> None:
        """Check a definition that sits `depth` levels deep in what is compiled (0 for the tree
        itself), at `path`; SegmentError when it passes a bound."""
        self._spend(path, criteria=1, cost=1)
        stack = [(definition, path, depth)]
        while stack:
            node, where, level = stack.pop()
            if level >= MAX_DEPTH:
                raise SegmentError(where, f"nested deeper than {MAX_DEPTH} levels (groups within groups, "
                                          f"included segments counting one more)")
            if not isinstance(node, dict):
                continue  # not a criterion: the compiler says so, with its path
            group = next((g for g in GROUPS if g in node), None)
            for key, value in node.items():
                if key == group == "not":
                    self._spend(path, criteria=1, cost=1)
                    stack.append((value, f"{where}.not", level + 1))
                elif key == group and isinstance(value, list):
                    self._spend(path, criteria=len(value), cost=len(value))
                    stack.extend((child, f"{where}.{key}[{i}]", level + 1) for i, child in enumerate(value))
                else:
                    self._spend(path, cost=self._value_cost(key, value, where))
        try:  # a text no column holds (NUL, a lone surrogate), from the CLI or a saved row as from the API
            json_input.check(definition, path)
        except json_input.BodyError as exc:
            where, _, why = str(exc).partition(": ")
            raise SegmentError(where, why) from None
        self.size += len(json.dumps(definition, separators=(",", ":"), ensure_ascii=False).encode())
        if self.size > MAX_BYTES:
            raise SegmentError(path, f"a segment's definition is at most {MAX_BYTES:,} bytes of JSON "
                                     f"(included segments' too); this one has {self.size:,}")

    def _spend(self, path: str, *, criteria: int = 0, cost: int = 0) -> None:
        self.criteria += criteria
        self.cost += cost
        if self.criteria > MAX_CRITERIA:
            raise SegmentError(path, f"a segment has at most {MAX_CRITERIA} criteria and groups "
                                     f"(included segments' too)")
        if self.cost > MAX_COST:
            raise SegmentError(path, f"the segment's estimated cost is over the limit: at most {MAX_COST:,} "
                                     f"criteria, groups and values in all (included segments' too)")

    @staticmethod
    def _check_list(key: str, value: list[Any] | dict[str, Any], where: str) -> None:
        if len(value) > MAX_LIST:
            raise SegmentError(where, f"{key!r} has {len(value)} items; at most {MAX_LIST:,}")

    def _value_cost(self, key: str, value: Any, where: str) -> int:
        """A parameter's values, each costing one; a list is bounded before it is looked into, and a
        parameter is a value, a list of values, or at most a list of pairs ([low, high])."""
        if not isinstance(value, list | dict):
            return 1
        self._check_list(key, value, where)
        for item in value.values() if isinstance(value, dict) else value:
            inner = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
            if any(isinstance(v, list | dict) for v in inner):
                raise SegmentError(where, f"{key!r} is nested too deeply: a value or a list of values is expected")
        return max(1, len(value))
