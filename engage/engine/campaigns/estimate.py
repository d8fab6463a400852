"""What a campaign would cost if it were launched now: for approvers, before they say yes.

How the figure is made, and why:

- Audience: whom the launch would write (campaigns.launching): the segment in the campaign's
  branch, less the opted out and less the control group (both exact: the control group is the same
  hash of seed and subscriber id the launch uses). Frequency caps are not taken off: they depend on
  what else is sent before the launch, so the estimate is what it costs if no cap bites.
- Route: per destination, the route the dispatcher would take now (routing.Router: cheapest healthy
  provider whose price table in force covers it, the same rules, health and currency rates).
  Set-based: ONE grouped query counts the audience by the leading digits of the number (as many
  as the longest prefix in the tables in force, or the 9 of phonenumbers' carrier data when the
  tables price networks by MCC-MNC alone, so that every number of a group takes the same route),
  language and A/B arm; the router is then asked once per group, never once per subscriber.
- Parts: each template variant (arm x language, picked for the recipient's language as at send
  time) is rendered once for the sample recipient the template editor measures with
  (render.sample_context: every field filled, typical lengths). Exact for texts without
  placeholders; with placeholders, a name much longer than the sample's can add a part for some.
- Unpriced: recipients with no route at all (no enabled provider covers them), those routed to a
  provider without a price table (price unknown), and those whose variant cannot be rendered or
  exceeds the campaign's max_parts (they would fail, costing nothing). Counted, never guessed.
- Money: per currency, never converted: an approver reads what each provider will bill.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, case, func, literal, select

from engage.engine.campaigns.launching import BUCKETS, arm_of, bucket
from engage.engine.routes.price_tables import current_prices
from engage.engine.routes.router import NoRoute, Route, Router
from engage.engine.segments.audience import COUNT_SECONDS, budget, condition, consistent, opt_out_join
from engage.engine.store.schema import Campaign, OptOut, Provider, Segment, Subscriber
from engage.engine.templates.render import TemplateError, check_parts, sample_context
from engage.engine.templates.store import TemplateSet
from engage.engine.users.scope import Scope

CARRIER_DIGITS = 9  # phonenumbers.carrierdata.CARRIER_LONGEST_PREFIX
CENT = Decimal("0.000001")  # route prices have 6 decimal places
PARTS_BASIS = "each variant rendered once for a sample recipient (as the template editor measures it)"


def key_length(conn: Connection, now: datetime | None = None) -> int:
    """Leading digits that decide a number's route under the tables in force (see the module's note)."""
    enabled = set(conn.execute(select(Provider.id).where(Provider.enabled.is_(True))).scalars())
    rows = [r for r in current_prices(conn, now) if r.provider_id in enabled]
    longest = max((len(r.prefix) for r in rows if r.prefix), default=1)
    if any(r.mcc_mnc and not r.prefix for r in rows):
        longest = max(longest, CARRIER_DIGITS)
    return longest


def audience_groups(conn: Connection, campaign: Any, definition: Any, length: int,
                    now: datetime) -> list[Any]:
    """(digits, language, arm, in_control, count) of the campaign's reachable audience: one query."""
    where = condition(conn, definition, Scope(branch=campaign.branch, show_numbers=True), now)
    joined = Subscriber.__table__.outerjoin(OptOut.__table__, opt_out_join("sms"))
    digits = func.substr(func.replace(Subscriber.msisdn, "+", ""), 1, length).label("digits")
    share = int(round((campaign.control_share or 0) * BUCKETS))
    control = (case((bucket(campaign.seed, 0) < share, 1), else_=0) if share else literal(0)).label("control")
    arm = arm_of(campaign).label("arm")
    # grouped over a subquery: PostgreSQL would not see a bound parameter in the SELECT list and the
    # same one in GROUP BY as the same expression
    each = select(digits, Subscriber.language.label("language"), arm, control).select_from(joined).where(
        and_(where, OptOut.msisdn.is_(None))).subquery()
    columns = (each.c.digits, each.c.language, each.c.arm, each.c.control)
    return conn.execute(select(*columns, func.count()).group_by(*columns)).all()


class _Parts:
    """Parts of each variant, measured once; None for a variant that cannot be rendered or is over max_parts."""

    def __init__(self, conn: Connection, campaign: Any):
        self.broken: str | None = None
        try:
            self.templates: TemplateSet | None = TemplateSet(conn, campaign.template_id)
        except TemplateError as exc:  # saved before a check existed: it would fail every message
            self.templates, self.broken = None, str(exc)
        self.context = sample_context(sender=campaign.sender_id, campaign=campaign.name)
        self.max_parts = campaign.max_parts
        self.seen: dict[tuple[str, str], dict[str, Any]] = {}  # (arm, language) -> its variant's figures

    def of(self, language: str | None, arm: str) -> dict[str, Any]:
        if self.templates is None:
            return self.seen.setdefault((arm, ""), {"arm": arm, "language": None, "parts": None, "encoding": None,
                                                    "error": self.broken, "recipients": 0})
        compiled = self.templates.pick(language, arm)
        key = (arm, compiled.language)
        if key not in self.seen:
            entry = {"arm": arm, "language": compiled.language, "parts": None, "encoding": None,
                     "error": None, "recipients": 0}
            try:
                rendered = compiled.render(self.context)
                entry.update(parts=rendered.info.parts, encoding=rendered.info.encoding, text=rendered.text)
                check_parts(rendered, self.max_parts)
            except TemplateError as exc:
                entry.update(parts=None, error=str(exc))
            self.seen[key] = entry
        return self.seen[key]


def _route(router: Router, digits: str) -> Route | None:
    try:
        return router.choose(digits)
    except NoRoute:
        return None


def estimate(conn: Connection, campaign_id: int, *, now: datetime | None = None,
             rates: dict[str, Decimal] | None = None, seconds: float | None = None) -> dict[str, Any]:
    """The campaign's cost if launched at ``now``; LookupError for a campaign that does not exist.
    ``rates``: currency rates for ranking routes (ENGAGE_CURRENCY_RATES when None), as the router.
    ``seconds``: the grouping's time budget (None: a count's, COUNT_SECONDS)."""
    campaign = conn.execute(select(Campaign.__table__).where(Campaign.id == campaign_id)).first()
    if campaign is None:
        raise LookupError(f"campaign {campaign_id} does not exist")
    return estimate_of(conn, campaign, now=now, rates=rates, seconds=seconds)


def estimate_of(conn: Connection, campaign: Any, *, now: datetime | None = None,
                rates: dict[str, Decimal] | None = None, seconds: float | None = None) -> dict[str, Any]:
    """``estimate`` of a campaign row, or of one not saved yet (the wizard's review): anything with the
    campaign's columns as attributes (id may be None)."""
    now = now or datetime.now(UTC)
    campaign_id = campaign.id
    definition = conn.execute(select(Segment.definition).where(Segment.id == campaign.segment_id)).scalar_one()
    seconds = COUNT_SECONDS if seconds is None else seconds
    with consistent(conn), budget(conn, seconds):  # CountTooSlow (a ValueError) past it, as a count
        router = Router(conn, now, rates=rates)
        groups = audience_groups(conn, campaign, definition, key_length(conn, now), now)
    parts = _Parts(conn, campaign)
    routes: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    unpriced: dict[str, int] = defaultdict(int)
    recipients = control = 0
    for digits, language, arm, in_control, n in groups:
        if in_control:
            control += n
            continue
        recipients += n
        variant = parts.of(language, arm)
        variant["recipients"] += n
        route = _route(router, digits or "")
        if variant["parts"] is None:
            unpriced["template"] += n
        elif route is None:
            unpriced["no_route"] += n
        elif route.price is None:
            unpriced["no_price"] += n
        else:
            key = (route.provider_name, route.network or "", str(route.price), route.currency or "")
            row = routes.setdefault(key, {"provider": route.provider_name, "network": route.network,
                                          "price": route.price, "currency": route.currency, "healthy": route.healthy,
                                          "recipients": 0, "parts": 0, "cost": Decimal(0)})
            row["recipients"] += n
            row["parts"] += n * variant["parts"]
            row["cost"] += route.price * n * variant["parts"]
    cost: dict[str, Decimal] = defaultdict(Decimal)
    for row in routes.values():
        row["cost"] = row["cost"].quantize(CENT)
        cost[row["currency"]] += row["cost"]
    by_route = sorted(routes.values(), key=lambda r: (r["currency"], -r["cost"], r["provider"], r["network"] or ""))
    return {"campaign_id": campaign_id, "at": now.astimezone(UTC).isoformat(), "reachable": recipients + control,
            "control": control, "recipients": recipients, "priced": recipients - sum(unpriced.values()),
            "unpriced": sum(unpriced.values()), "unpriced_reasons": dict(sorted(unpriced.items())),
            "cost": {c: cost[c] for c in sorted(cost)}, "parts": sum(r["parts"] for r in routes.values()),
            "by_route": by_route, "parts_basis": PARTS_BASIS,
            "variants": sorted(parts.seen.values(), key=lambda v: (v["arm"], v["language"] or ""))}


def jsonable(value: Any) -> Any:
    """The estimate with its Decimals as text (money is never a float)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value
