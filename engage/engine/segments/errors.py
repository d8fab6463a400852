"""What goes wrong with a segment, said where it is: kept apart from the tree (criteria.py) so that
the bounds (limits.py) and the evaluators can raise them without importing the compiler."""

from __future__ import annotations


class SegmentError(ValueError):
    """A criterion that cannot be compiled; `path` says where it sits in the tree
    ("segment.and[1].or[0]"), `message` why, so the editor can point at it."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class CountTooSlow(SegmentError):
    """A count stopped at its time budget. A SegmentError, so that every caller that reports a bad
    segment reports this one too; the web answers it apart (422), as the segment is valid but too
    costly for this base."""

    def __init__(self, seconds: float):
        super().__init__("segment", f"the count took longer than {seconds:g} s; narrow the segment")
        self.seconds = seconds
