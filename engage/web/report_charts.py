"""The effectiveness report's charts as SVG geometry, drawn on the server so that the report reads
the same without scripts, prints, and is checked by the same tests as its tables: the funnel (bars),
conversion over days since delivery (two lines, treated and control) and uplift with its interval per
group (a forest plot around zero). Each chart sits beside a table of the same figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH = 640
LABEL_WIDTH = 170  # the forest plot's and the funnel's left column of names


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    share: float | None  # of the funnel's first step
    y: int
    width: float


def funnel(steps: list[dict[str, Any]], words: dict[str, str]) -> dict[str, Any]:
    """One bar per step, as long as its share of the recipients."""
    top = max((s["count"] for s in steps), default=0)
    span = WIDTH - LABEL_WIDTH - 120  # room for the count and its share after the longest bar
    bars = [Bar(words.get(s["step"], s["step"]), s["count"], s["of_recipients"], 8 + 30 * i,
                round(span * s["count"] / top, 1) if top else 0.0) for i, s in enumerate(steps)]
    return {"bars": bars, "height": 16 + 30 * len(bars), "x": LABEL_WIDTH}


def curve(days: list[int], treated: list[float | None], control: list[float | None]) -> dict[str, Any]:
    """Cumulative conversion rate by day since delivery: polylines in a 0..top percent frame."""
    height, left, right, top_pad, bottom = 220, 48, 12, 12, 30
    rates = [r for r in (*treated, *control) if r is not None]
    top = _nice(max(rates, default=0.0))
    inner_w, inner_h = WIDTH - left - right, height - top_pad - bottom

    def x(i: int) -> float:
        return round(left + (inner_w * i / (len(days) - 1) if len(days) > 1 else inner_w / 2), 1)

    def y(rate: float) -> float:
        return round(top_pad + inner_h * (1 - (rate / top if top else 0)), 1)

    def line(series: list[float | None]) -> str:
        return " ".join(f"{x(i)},{y(r)}" for i, r in enumerate(series) if r is not None)

    ticks = [{"y": y(top * k / 4), "label": f"{100 * top * k / 4:.1f} %"} for k in range(5)]
    step = max(1, len(days) // 8)
    day_ticks = [{"x": x(i), "label": str(d)} for i, d in enumerate(days) if i % step == 0]
    return {"height": height, "treated": line(treated), "control": line(control), "ticks": ticks,
            "days": day_ticks, "left": left, "right": WIDTH - right, "base": height - bottom}


def intervals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A forest plot: each row's difference (points) and its interval as a whisker, around a zero line.
    Rows without a measurable uplift (no control members, say) are listed with no whisker."""
    measured = [r["uplift"] for r in rows if r.get("uplift")]
    reach = max([abs(u["low"]) for u in measured] + [abs(u["high"]) for u in measured] + [0.01])
    reach = _nice(reach)
    left, right = LABEL_WIDTH, WIDTH - 70
    mid = (left + right) / 2

    def x(value: float) -> float:
        return round(mid + (right - left) / 2 * value / reach, 1)

    out = []
    for i, row in enumerate(rows):
        u = row.get("uplift")
        y = 20 + 26 * i
        out.append({"label": row["label"], "y": y, "measured": bool(u),
                    "significant": bool(u and u["significant"]),
                    "x": x(u["difference"]) if u else None, "low": x(u["low"]) if u else None,
                    "high": x(u["high"]) if u else None,
                    "words": f"{100 * u['difference']:+.1f} pts" if u else "not measurable"})
    return {"rows": out, "height": 34 + 26 * len(rows), "zero": x(0.0), "left": x(-reach), "right": x(reach),
            "reach": f"{100 * reach:.0f}", "top": 6}


def _nice(value: float) -> float:
    """A round upper bound for an axis (fractions: 0.05, 0.1, 0.2, 0.25, 0.5, 1...)."""
    if value <= 0:
        return 0.01
    for bound in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1.0):
        if value <= bound:
            return bound
    return value
