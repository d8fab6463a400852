"""What goes wrong with a segment, said where it is: kept apart from the tree (criteria.py) so that
the bounds (limits.py) and the evaluators can raise them without importing the compiler.

An error is said twice: `message` for whoever reads the JSON (an integration, the CLI: "'value' is
required", with the path), and `in_words()` for the marketer in the builder ("Criterion 2 (Age):
enter a number"), who thinks in the criteria they see, not in keys and paths."""

from __future__ import annotations

import re

_INDEX = re.compile(r"\.(?:and|or)\[(\d+)\]")


class SegmentError(ValueError):
    """A criterion that cannot be compiled; `path` says where it sits in the tree
    ("segment.and[1].or[0]"), `message` why, so the editor can point at it. `hint` is what to do
    about it in the marketer's words ("enter a number"); `param` the parameter at fault, whose own
    request ("enter a number of days") the compiler adds as the hint when the kind gave none;
    `criterion` the criterion's name as the builder shows it ("Age"), which the compiler adds."""

    def __init__(self, path: str, message: str, *, hint: str | None = None, param: str | None = None):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.hint = hint
        self.param = param
        self.criterion: str | None = None

    def in_words(self) -> str:
        """The error for a person: which criterion (numbered as the builder lists them), and what to do."""
        if self.criterion is None and self.hint is None:  # the whole segment's: its size, an empty group
            return self.message[:1].upper() + self.message[1:]
        named = f" ({self.criterion})" if self.criterion else ""
        return f"{criterion_place(self.path)}{named}: {self.hint or self.message}"


def criterion_place(path: str) -> str:
    """ "segment.and[1].or[0]" -> "Criterion 2.1": positions counted from 1, a NOT not counted (the
    builder shows it as a tick on the criterion), a saved segment that is included named by its id."""
    outer, *included = path.split(".segment[")
    words = [f"Criterion {_position(outer)}"]
    for part in included:
        segment_id, _, inner = part.partition("]")
        words.append(f"in saved segment {segment_id}, criterion {_position(inner)}")
    return ", ".join(words)


def _position(path: str) -> str:
    return ".".join(str(int(i) + 1) for i in _INDEX.findall(path)) or "1"


class CountTooSlow(SegmentError):
    """A count stopped at its time budget. A SegmentError, so that every caller that reports a bad
    segment reports this one too; the web answers it apart (422), as the segment is valid but too
    costly for this base."""

    def __init__(self, seconds: float):
        super().__init__("segment", f"the count took longer than {seconds:g} s; narrow the segment")
        self.seconds = seconds
