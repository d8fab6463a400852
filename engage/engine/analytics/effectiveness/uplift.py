"""Did sending change anything? Two proportions compared, treated against control (or one A/B arm
against another), with the uncertainty a marketer needs before acting on a difference. Pure
statistics: counts in, figures out, no database.

The choices, as a statistician reviewing the report would want them named:
- the absolute difference's 95 % interval is Newcombe's hybrid score interval (Newcombe 1998,
  method 10), built from the two Wilson score intervals. Unlike the textbook Wald interval it stays
  inside [-1, 1], keeps its coverage with small counts and rates near 0 or 1, and needs no
  continuity correction. Checked against Newcombe's published examples (tests/test_uplift.py);
- the relative uplift (ratio of the rates, minus 1) gets the log-ratio (Katz) interval; it is None
  when either group has no success, where the ratio or its logarithm is undefined;
- the p-value is the two-sided pooled two-proportion z-test (statistics.NormalDist);
- `significant` is decided by the interval (it excludes 0), so the sentence a page shows and the
  interval it draws never disagree; the p-value is reported beside it for whoever wants it.

An A/B winner is named only when its interval against every other arm lies above zero; otherwise
`why` says, in a sentence, which comparison is not yet conclusive and why."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

CONFIDENCE = 0.95


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"{successes} successes of {trials} trials: need 0 <= successes <= trials")


def wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of successes/trials; (0, 1) when there were no trials."""
    _counts(successes, trials)
    if trials == 0:
        return 0.0, 1.0
    z = _z(confidence)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exactly, not a rounding error away
    return low, 1.0 if successes == trials else min(1.0, centre + half)


def newcombe(x1: int, n1: int, x2: int, n2: int, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(p1 - p2, low, high): Newcombe's hybrid score interval of the difference of two proportions."""
    if n1 == 0 or n2 == 0:
        raise ValueError("both groups need at least one trial")
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def relative(x1: int, n1: int, x2: int, n2: int, confidence: float = CONFIDENCE
             ) -> tuple[float, float, float] | None:
    """(p1/p2 - 1, low, high) by the log-ratio interval; None when a group has no success (or no trial)."""
    if not (n1 and n2 and x1 and x2):
        return None
    ratio = (x1 / n1) / (x2 / n2)
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    spread = _z(confidence) * se
    return ratio - 1, ratio * math.exp(-spread) - 1, ratio * math.exp(spread) - 1


def p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (1.0 when there is no variance at all)."""
    if n1 == 0 or n2 == 0:
        raise ValueError("both groups need at least one trial")
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return min(1.0, 2 * (1 - NormalDist().cdf(abs(z))))


@dataclass(frozen=True)
class Comparison:
    """One group's rate against another's (`rate` against `baseline`), fractions throughout."""

    successes: int
    trials: int
    baseline_successes: int
    baseline_trials: int
    rate: float
    baseline: float
    difference: float  # rate - baseline: the absolute uplift
    low: float  # its 95 % interval (Newcombe)
    high: float
    relative: float | None  # rate / baseline - 1; None when undefined (a group with no success)
    relative_low: float | None
    relative_high: float | None
    p_value: float
    significant: bool  # the interval excludes 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def interval_words(self) -> str:
        """The interval in percentage points as a page says it: "[-0.4, 1.2] points"."""
        return f"[{_points(self.low)}, {_points(self.high)}] points"


def _points(fraction: float) -> str:
    return f"{round(100 * fraction, 1) + 0.0:.1f}"  # + 0.0: never "-0.0"


def compare(x1: int, n1: int, x2: int, n2: int, confidence: float = CONFIDENCE) -> Comparison | None:
    """x1 of n1 (treated, or an arm) against x2 of n2 (control, or another arm); None while either
    group is empty, since nothing can be said then."""
    _counts(x1, n1)
    _counts(x2, n2)
    if n1 == 0 or n2 == 0:
        return None
    d, low, high = newcombe(x1, n1, x2, n2, confidence)
    rel = relative(x1, n1, x2, n2, confidence)
    return Comparison(
        successes=x1, trials=n1, baseline_successes=x2, baseline_trials=n2, rate=x1 / n1, baseline=x2 / n2,
        difference=d, low=low, high=high, relative=rel[0] if rel else None,
        relative_low=rel[1] if rel else None, relative_high=rel[2] if rel else None,
        p_value=p_value(x1, n1, x2, n2), significant=low > 0 or high < 0)


def arms(counts: Mapping[str, tuple[int, int]], control: tuple[int, int] | None = None,
         confidence: float = CONFIDENCE) -> dict[str, Any]:
    """A/B arms compared: {"vs_control": {arm: Comparison | None}, "pairs": {"A-B": Comparison | None}
    (each ordered pair once, the first against the second), "winner": arm or None, "why": a sentence}.
    `counts`: arm -> (successes, trials); `control`: the control group's, when there is one."""
    names = sorted(counts)
    vs_control = {a: (compare(*counts[a], *control, confidence) if control else None) for a in names}
    pairs = {f"{a}-{b}": compare(*counts[a], *counts[b], confidence)
             for i, a in enumerate(names) for b in names[i + 1:]}
    found, why = _winner(counts, names, confidence)
    return {"vs_control": vs_control, "pairs": pairs, "winner": found, "why": why}


def _winner(counts: Mapping[str, tuple[int, int]], names: list[str], confidence: float) -> tuple[str | None, str]:
    if len(names) < 2:
        return None, "one arm only: there is nothing to choose between"
    empty = [a for a in names if counts[a][1] == 0]
    if empty:
        return None, f"not yet: arm {empty[0]} has no recipients"
    best = max(names, key=lambda a: (counts[a][0] / counts[a][1], a))
    for other in names:
        if other == best:
            continue
        c = compare(*counts[best], *counts[other], confidence)
        if c is None or c.low <= 0:
            return None, (f"not yet: {best} against {other}, the interval {c.interval_words()} covers zero"
                          if c is not None else f"not yet: {best} against {other} cannot be compared")
    return best, f"{best}: its interval against every other arm lies above zero"
