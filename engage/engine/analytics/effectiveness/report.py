"""What a campaign's effectiveness report shows, read from campaign_results (a few hundred rows
whatever the campaign's size) and the campaign's own record: reach, delivery, cost, responses,
conversion against the control group with its uplift and interval, overall, per A/B arm (with the
winner, or why none yet), per customer group (the groups where sending moved people most first), the
funnel, the conversion curve and, for a recurring campaign, each run. Nothing here reads messages.

Rates are fractions (0.1234), None while their base is 0; every treated recipient counts in the
conversion rate, delivered or not (intention to treat), so treated and control compare fairly.
`tables` flattens a report into the tables a CSV download offers; `compare` sets campaigns side by
side. Who may read them: engine.users.roles.may_read_analytics (analysts, admins, the analytics grant)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from engage.engine.analytics.effectiveness import uplift
from engage.engine.analytics.effectiveness.settings import parse
from engage.engine.store.database import aware
from engage.engine.store.schema import Campaign, CampaignResult, CampaignResultState, CampaignRun

COUNTS = ("recipients", "delivered", "responded", "converted")
ONCE = (None, "now", "at")  # schedule kinds that run once
Key = tuple[int, str, str, str, bool]  # run, dimension, group, arm, control


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _money(amount: Decimal, count: int) -> float | None:
    return round(float(amount) / count, 6) if count and amount else None


def _blank() -> dict[str, Any]:
    return {**dict.fromkeys(COUNTS, 0), "cost": Decimal(0), "seconds": 0.0}


def _add(into: dict[str, Any], row: dict[str, Any]) -> None:
    for k in (*COUNTS, "cost", "seconds"):
        into[k] += row[k]


def _figures(f: dict[str, Any]) -> dict[str, Any]:
    """Counts and their rates: delivered of the recipients, responded and converted of the recipients."""
    return {**{k: f[k] for k in COUNTS}, "delivery_rate": _rate(f["delivered"], f["recipients"]),
            "response_rate": _rate(f["responded"], f["recipients"]),
            "conversion_rate": _rate(f["converted"], f["recipients"])}


def _uplift(treated: dict[str, Any], control: dict[str, Any], what: str) -> dict[str, Any] | None:
    c = uplift.compare(treated[what], treated["recipients"], control[what], control["recipients"])
    return None if c is None else {**c.as_dict(), "sentence": _sentence(c)}


def _sentence(c: uplift.Comparison) -> str:
    p = "p < 0.001" if c.p_value < 0.001 else f"p = {c.p_value:.3f}"
    if not c.significant:
        return f"no measurable effect yet: the interval {c.interval_words()} covers zero ({p})"
    way = "raised" if c.difference > 0 else "lowered"
    return f"sending {way} it by {abs(100 * c.difference):.1f} points, interval {c.interval_words()} ({p})"


def _pair_sentence(pair: str, c: uplift.Comparison) -> str:
    first, second = pair.split("-", 1)
    way = "more" if c.difference >= 0 else "less"
    verdict = "a real difference" if c.significant else "not yet a difference: the interval covers zero"
    return (f"{first} converts {abs(100 * c.difference):.1f} points {way} than {second}, interval "
            f"{c.interval_words()}: {verdict}")


def _load(conn: Connection, campaign_id: int) -> dict[Key, dict[str, Any]]:
    rows = conn.execute(select(CampaignResult.__table__).where(CampaignResult.campaign_id == campaign_id)).all()
    return {(r.run_id, r.dimension, r.grp, r.arm, bool(r.control)): {
        "recipients": r.recipients, "delivered": r.delivered, "responded": r.responded, "converted": r.converted,
        "cost": Decimal(str(r.cost)), "seconds": r.seconds or 0.0, "currency": r.currency} for r in rows}


def _sum(rows: dict[Key, dict[str, Any]], *, dimension: str = "", run: int | None = None, grp: str | None = None,
         arm: str | None = None, control: bool | None = None) -> dict[str, Any]:
    out = _blank()
    for (r, d, g, a, c), figures in rows.items():
        if d == dimension and (run is None or r == run) and (grp is None or g == grp) and (
                arm is None or a == arm) and (control is None or c == control):
            _add(out, figures)
    return out


def effectiveness(conn: Connection, campaign_id: int) -> dict[str, Any] | None:
    """Everything a campaign's report page shows; None when there is no such campaign. `computed`
    False: the figures have not been computed yet (refresh_due will; the page says so)."""
    campaign = conn.execute(select(Campaign.id, Campaign.name, Campaign.status, Campaign.schedule,
                                   Campaign.set_aside, Campaign.analytics, Campaign.launched_at,
                                   Campaign.control_share).where(Campaign.id == campaign_id)).first()
    if campaign is None:
        return None
    state = conn.execute(select(CampaignResultState.__table__).where(
        CampaignResultState.campaign_id == campaign_id)).first()
    judged = state.settings if state else parse(campaign.analytics).as_json()
    rows = _load(conn, campaign_id)
    treated, control = _sum(rows, control=False), _sum(rows, control=True)
    currency = next((f["currency"] for k, f in rows.items() if not k[1] and f["currency"]), "")
    recurring = (campaign.schedule or {}).get("kind") not in ONCE
    return {
        "campaign": {"id": campaign.id, "name": campaign.name, "status": campaign.status, "recurring": recurring,
                     "launched_at": _iso(campaign.launched_at), "computed": state is not None,
                     "computed_at": _iso(state.computed_at) if state else None,
                     "final": bool(state and state.closes_at and aware(state.computed_at) >= aware(state.closes_at)),
                     "settings": judged},
        "reach": _reach(campaign.set_aside or {}, treated, control),
        "delivery": {"delivered": treated["delivered"], "rate": _rate(treated["delivered"], treated["recipients"]),
                     "seconds_to_deliver": round(treated["seconds"] / treated["delivered"], 1)
                     if treated["delivered"] else None},
        "cost": {"total": float(treated["cost"]), "currency": currency,
                 "per_delivered": _money(treated["cost"], treated["delivered"]),
                 "per_response": _money(treated["cost"], treated["responded"]),
                 "per_conversion": _money(treated["cost"], treated["converted"]),
                 "by_currency": {g: float(f["cost"]) for g, f in _by(rows, "currency", control=False).items()}},
        "response": {"treated": _figures(treated), "control": _figures(control),
                     "uplift": _uplift(treated, control, "responded")},
        "conversion": {"kind": judged["conversion"]["kind"], "days": judged["conversion"]["days"],
                       "treated": _figures(treated), "control": _figures(control),
                       "uplift": _uplift(treated, control, "converted")},
        "arms": _arms(rows, control),
        "groups": _groups(rows, judged),
        "funnel": [{"step": step, "count": treated[step], "of_recipients": _rate(treated[step], treated["recipients"])}
                   for step in COUNTS],
        "curve": _curve(rows, judged["conversion"]["days"]),
        "runs": _runs(conn, campaign_id, rows),
    }


def _iso(moment: Any) -> str | None:
    return aware(moment).isoformat() if moment is not None else None


def _reach(set_aside: dict[str, Any], treated: dict[str, Any], control: dict[str, Any]) -> dict[str, Any]:
    aside = {reason: n for reason, n in set_aside.items() if reason != "control"}
    return {"recipients": treated["recipients"], "control": control["recipients"], "set_aside": aside,
            "set_aside_total": sum(int(n or 0) for n in aside.values()),
            "audience": treated["recipients"] + control["recipients"] + sum(int(n or 0) for n in aside.values())}


def _by(rows: dict[Key, dict[str, Any]], dimension: str, **where: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(_blank)
    for (r, d, g, a, c), figures in rows.items():
        if d == dimension and all({"control": c, "arm": a, "run": r}[k] == v for k, v in where.items()):
            _add(out[g], figures)
    return dict(out)


def _arms(rows: dict[Key, dict[str, Any]], control: dict[str, Any]) -> dict[str, Any]:
    """Each arm's figures against the whole control group (every arm's held-out members: the control
    group is drawn independently of the arm, so all of it is each arm's baseline), and the winner."""
    by_arm: dict[str, dict[str, Any]] = defaultdict(_blank)
    for (_, dimension, _, arm, control_row), figures in rows.items():
        if not dimension and not control_row:
            _add(by_arm[arm], figures)
    found = uplift.arms({a: (f["converted"], f["recipients"]) for a, f in by_arm.items()},
                        (control["converted"], control["recipients"]) if control["recipients"] else None)
    pairs = {name: (c.as_dict() | {"sentence": _pair_sentence(name, c)} if c else None)
             for name, c in found["pairs"].items()}
    return {"arms": [{"arm": a, **_figures(f), "uplift": _uplift(f, control, "converted")}
                     for a, f in sorted(by_arm.items())],
            "pairs": pairs, "winner": found["winner"], "why": found["why"]}


def _groups(rows: dict[Key, dict[str, Any]], judged: dict[str, Any]) -> list[dict[str, Any]]:
    """Per customer group: treated and control side by side and the uplift, the groups where sending
    moved conversion most first (those too small to say anything last, by their treated rate)."""
    settings = parse(judged)
    out = []
    for group in settings.groups:
        treated, control = _by(rows, group.name, control=False), _by(rows, group.name, control=True)
        members = []
        for value in sorted(set(treated) | set(control)):
            t, c = treated.get(value, _blank()), control.get(value, _blank())
            members.append({"value": value, "label": group.words(value), "treated": _figures(t),
                            "control": _figures(c), "uplift": _uplift(t, c, "converted")})
        members.sort(key=lambda m: (m["uplift"] is None, -(m["uplift"] or {}).get("difference", 0.0),
                                    -(m["treated"]["conversion_rate"] or 0.0), m["value"]))
        out.append({"dimension": group.name, "label": group.label, "order": group.values(), "groups": members})
    return out


def _curve(rows: dict[Key, dict[str, Any]], days: int) -> dict[str, Any]:
    """Cumulative conversion by whole days since delivery (day 0: the first 24 hours), treated and
    control, counts and rates."""
    out: dict[str, Any] = {"days": list(range(days))}
    for name, control in (("treated", False), ("control", True)):
        by_day = _by(rows, "day", control=control)
        counts = [by_day.get(str(d), _blank())["converted"] for d in range(days)]
        base = by_day.get("0", _blank())["recipients"]
        out[name] = {"converted": counts, "rate": [_rate(n, base) for n in counts], "recipients": base}
    return out


def _runs(conn: Connection, campaign_id: int, rows: dict[Key, dict[str, Any]]) -> list[dict[str, Any]]:
    runs = conn.execute(select(CampaignRun.id, CampaignRun.scheduled_for, CampaignRun.started_at,
                               CampaignRun.status, CampaignRun.set_aside, CampaignRun.note)
                        .where(CampaignRun.campaign_id == campaign_id).order_by(CampaignRun.scheduled_for)).all()
    out = []
    for run in runs:
        t, c = _sum(rows, run=run.id, control=False), _sum(rows, run=run.id, control=True)
        out.append({"run_id": run.id, "scheduled_for": _iso(run.scheduled_for), "started_at": _iso(run.started_at),
                    "status": run.status, "note": run.note,
                    "set_aside": {k: v for k, v in (run.set_aside or {}).items() if k != "control"},
                    "treated": _figures(t), "control": _figures(c), "cost": float(t["cost"]),
                    "uplift": _uplift(t, c, "converted")})
    return out


def compare(conn: Connection, campaign_ids: Iterable[int]) -> dict[str, Any]:
    """Campaigns side by side, one row each in the order asked (those that do not exist left out),
    and whether they were judged alike: conversion rates of different usage kinds or windows are
    not comparable, and the answer says so."""
    rows = []
    for campaign_id in dict.fromkeys(campaign_ids):
        report = effectiveness(conn, campaign_id)
        if report is None:
            continue
        conv, up = report["conversion"], report["conversion"]["uplift"] or {}
        rows.append({"campaign_id": campaign_id, "name": report["campaign"]["name"],
                     "launched_at": report["campaign"]["launched_at"], "computed": report["campaign"]["computed"],
                     "conversion_kind": conv["kind"], "conversion_days": conv["days"],
                     "recipients": report["reach"]["recipients"], "control": report["reach"]["control"],
                     "delivery_rate": report["delivery"]["rate"],
                     "response_rate": report["response"]["treated"]["response_rate"],
                     "conversion_rate": conv["treated"]["conversion_rate"],
                     "control_conversion_rate": conv["control"]["conversion_rate"],
                     "uplift": up.get("difference"), "uplift_low": up.get("low"), "uplift_high": up.get("high"),
                     "significant": up.get("significant"), "cost": report["cost"]["total"],
                     "currency": report["cost"]["currency"], "cost_per_delivered": report["cost"]["per_delivered"],
                     "cost_per_response": report["cost"]["per_response"],
                     "winner": report["arms"]["winner"]})
    judged = {(r["conversion_kind"], r["conversion_days"]) for r in rows}
    return {"campaigns": rows, "comparable": len(judged) <= 1,
            "note": None if len(judged) <= 1 else
            "these campaigns are judged on different conversions: " + "; ".join(
                f"{r['name']}: {r['conversion_kind']} within {r['conversion_days']} days" for r in rows)}


def tables(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A report as flat tables, one CSV download each: summary, funnel, arms, groups, curve, runs."""
    conv = report["conversion"]
    summary = {"campaign_id": report["campaign"]["id"], "name": report["campaign"]["name"],
               "computed_at": report["campaign"]["computed_at"], "conversion_kind": conv["kind"],
               "conversion_days": conv["days"], **{f"reach_{k}": v for k, v in report["reach"].items()
                                                    if k != "set_aside"},
               **{f"set_aside_{k}": v for k, v in report["reach"]["set_aside"].items()},
               "delivered": report["delivery"]["delivered"], "delivery_rate": report["delivery"]["rate"],
               "seconds_to_deliver": report["delivery"]["seconds_to_deliver"],
               **{f"cost_{k}": v for k, v in report["cost"].items() if k != "by_currency"},
               **_flat("treated", conv["treated"]), **_flat("control", conv["control"]),
               **_flat("conversion_uplift", conv["uplift"]), **_flat("response_uplift", report["response"]["uplift"])}
    arms = [{"arm": a["arm"], **{k: v for k, v in a.items() if k not in ("arm", "uplift")},
             **_flat("uplift", a["uplift"]), "winner": report["arms"]["winner"] == a["arm"]}
            for a in report["arms"]["arms"]]
    groups = [{"dimension": g["dimension"], "group": m["value"], "label": m["label"], **_flat("treated", m["treated"]),
               **_flat("control", m["control"]), **_flat("uplift", m["uplift"])}
              for g in report["groups"] for m in g["groups"]]
    curve = report["curve"]
    days = [{"day": d, **{f"{side}_{k}": curve[side][k][i] for side in ("treated", "control")
                          for k in ("converted", "rate")}} for i, d in enumerate(curve["days"])]
    runs = [{"run_id": r["run_id"], "scheduled_for": r["scheduled_for"], "started_at": r["started_at"],
             "status": r["status"], "cost": r["cost"], **_flat("treated", r["treated"]),
             **_flat("control", r["control"]), **_flat("uplift", r["uplift"])} for r in report["runs"]]
    return {"summary": [summary], "funnel": report["funnel"], "arms": arms, "groups": groups, "curve": days,
            "runs": runs}


FIGURE_KEYS = (*COUNTS, "delivery_rate", "response_rate", "conversion_rate")
UPLIFT_KEYS = ("difference", "low", "high", "relative", "relative_low", "relative_high", "p_value", "significant")


def _flat(prefix: str, figures: dict[str, Any] | None) -> dict[str, Any]:
    """Figures or an uplift (None: not measurable) as prefixed columns, the same columns either way."""
    keys = UPLIFT_KEYS if prefix.endswith("uplift") else FIGURE_KEYS
    return {f"{prefix}_{k}": (figures or {}).get(k) for k in keys}
