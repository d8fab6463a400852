"""The dispatcher: takes a campaign's pending messages a batch at a time, renders them,
routes them (least cost, healthy, not a provider that already rejected the message), marks
them queued with their route and price, and publishes one broker message per provider.

The database is marked first and the broker second: a crash in between leaves messages
`queued` in the database, where the sweeper finds them again; never a message the broker
carries that the database does not know about.

A provider whose queue already holds `max_queued_batches` gets nothing more until it drains:
its messages wait as `pending` in the database, not in RabbitMQ's memory.

Each campaign is read from a cursor (the last id taken), not from its first pending message: every
message taken leaves a dead entry at the front of the (campaign, status, id) index until VACUUM, and
starting each batch at the front walked all of them again. Messages that become pending behind the
cursor (a failover, a held message released) are found when it starts over: when it reaches the end,
and every RESCAN_EVERY seconds.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from jinja2.exceptions import SecurityError
from sqlalchemy import Engine, func, select

from engage import config
from engage.engine import metrics
from engage.engine import statuses as st
from engage.engine.broker import Broker
from engage.engine.broker.queues import send_queue
from engage.engine.campaigns import complete_finished
from engage.engine.campaigns.kinds import REPLY_KIND
from engage.engine.campaigns.trial_sends import TEST_KIND
from engage.engine.delivery import batches
from engage.engine.delivery.submits import provider_trouble
from engage.engine.events import record, record_batch
from engage.engine.providers.base import OutboundSms
from engage.engine.routes.router import NoRoute, Route, Router, RouterCache
from engage.engine.scheduler.quiet_hours import QuietHours, parse_quiet_hours
from engage.engine.sms_encoding import analyse
from engage.engine.store.bulk import update_from_values
from engage.engine.store.schema import Campaign, CampaignRun, Message, Provider, Subscriber
from engage.engine.templates.render import FIELDS, Rendered, TemplateError, check_parts, sample_context
from engage.engine.templates.store import TemplateSet

messages = Message.__table__
COMPLETION_CHECK_EVERY = 1.0  # seconds; finding finished campaigns scans their messages
RESCAN_EVERY = 10.0  # seconds between starts from a campaign's first pending message


@dataclass(frozen=True)
class SendRules:
    """What a campaign's own rules ask of each batch: its name for templates, quiet hours in the
    recipient's zone (default `timezone`), and the cap on parts."""

    name: str = ""
    quiet: QuietHours | None = None
    max_parts: int | None = None
    timezone: str = "UTC"
    test: bool = False  # a test send: staff who are not subscribers see a sample recipient
    reply: bool = False  # a keyword's confirmation: to anyone who texted, sent even to a number that just opted out
    valid_until: datetime | None = None  # the earliest deadline of its running runs: the SMSC's validity


class Pacer:
    """A campaign's maximum rate (messages per second), on top of the providers' own limits: a token
    bucket per campaign, one second deep, refilled as time passes."""

    def __init__(self) -> None:
        self._tokens: dict[int, float] = {}
        self._at: dict[int, float] = {}

    def allowance(self, campaign_id: int, rate: int | None, most: int) -> int:
        if not rate:
            return most
        now = time.monotonic()
        tokens = self._tokens.get(campaign_id, float(rate))
        tokens = min(float(rate), tokens + (now - self._at.get(campaign_id, now)) * rate)
        self._tokens[campaign_id], self._at[campaign_id] = tokens, now
        return min(most, int(tokens))

    def spent(self, campaign_id: int, count: int) -> None:
        if campaign_id in self._tokens:
            self._tokens[campaign_id] -= count


class Dispatcher:
    def __init__(self, engine: Engine, broker: Broker, *, batch_size: int = 500,
                 max_queued_batches: int | None = None):
        self.engine = engine
        self.broker = broker
        self.batch_size = batch_size
        self.max_queued_batches = max_queued_batches or config.load().max_queued_batches
        self.routers = RouterCache()
        self._templates: dict[int, TemplateSet] = {}
        self._next_completion_check = 0.0
        self.pace = Pacer()
        self.default_timezone = config.load().default_timezone
        self._after: dict[int, int] = {}  # campaign -> last message id taken
        self._rescan_at: dict[int, float] = {}
        self._drained: set[int] = set()  # campaigns whose last look found nothing pending

    def run_once(self) -> int:
        """Dispatch one batch of every running campaign; returns how many messages were queued."""
        with self.engine.connect() as conn:
            deadline = select(func.min(CampaignRun.expires_at)).where(
                CampaignRun.campaign_id == Campaign.id, CampaignRun.status == st.RUN_RUNNING).scalar_subquery()
            running = conn.execute(select(Campaign.id, Campaign.template_id, Campaign.sender_id, Campaign.name,
                                          Campaign.max_rate, Campaign.quiet_hours, Campaign.max_parts,
                                          Campaign.timezone, Campaign.kind, deadline.label("valid_until")).where(
                Campaign.status == st.CAMPAIGN_RUNNING).order_by(Campaign.id)).all()
            provider_ids = conn.execute(select(Provider.id).where(Provider.enabled.is_(True))).scalars().all()
        busy = {p for p in provider_ids if self.broker.depth(send_queue(p)) >= self.max_queued_batches}
        queued = 0
        # every queue full: nothing could be routed anywhere, so no batch is read (and routed) for nothing
        for c in (running if not provider_ids or busy != set(provider_ids) else ()):
            allowed = self.pace.allowance(c.id, c.max_rate, self.batch_size)
            if allowed:
                rules = SendRules(name=c.name, quiet=parse_quiet_hours(c.quiet_hours), max_parts=c.max_parts,
                                  timezone=c.timezone or self.default_timezone, test=c.kind == TEST_KIND,
                                  reply=c.kind == REPLY_KIND,
                                  valid_until=c.valid_until)
                sent = self.dispatch_batch(c.id, c.template_id, c.sender_id, busy, rules=rules, limit=allowed)
                self.pace.spent(c.id, sent)
                queued += sent
        if time.monotonic() >= self._next_completion_check:
            complete_finished(self.engine, only=self._drained & {c.id for c in running})
            self._next_completion_check = time.monotonic() + COMPLETION_CHECK_EVERY
        return queued

    def _template_set(self, conn, template_id: int) -> TemplateSet:  # noqa: ANN001
        if template_id not in self._templates:
            self._templates[template_id] = TemplateSet(conn, template_id)
        return self._templates[template_id]

    def dispatch_batch(self, campaign_id: int, template_id: int, sender_id: str,
                       busy: set[int] | frozenset[int] = frozenset(), *, rules: SendRules | None = None,
                       limit: int | None = None) -> int:
        rules = rules or SendRules(timezone=self.default_timezone)
        wanted = min(limit or self.batch_size, self.batch_size)
        by_provider: dict[int, list[OutboundSms]] = defaultdict(list)
        with self.engine.begin() as conn:
            templates = self._template_set(conn, template_id)
            rows = self._take(conn, campaign_id, wanted, templates.fields)
            if not rows:
                return 0
            router = self.routers.get(conn)
            updates, failures, held = [], [], []
            batch_ids: dict[int, str] = defaultdict(batches.new_batch_id)  # provider -> its batch
            now = datetime.now(UTC)
            for row in rows:  # each a dict of its own: it becomes the template's context
                if rules.quiet is not None and rules.quiet.is_quiet(now, row["timezone"], rules.timezone):
                    held.append({"id": row["id"], "not_before": rules.quiet.next_allowed(
                        now, row["timezone"], rules.timezone)})
                    continue  # quiet hours began while it waited: held until they end, never dropped
                tried = [int(t) for t in row["tried_providers"].split(",") if t] if row["tried_providers"] else []
                try:
                    route = (_came_by(router, row["msisdn"], row["came_by"], tried) if rules.reply else None) \
                        or _route(router, row["msisdn"], tried, row["last_error"])
                    if route.provider_id in busy:
                        # stays pending until that provider's queue drains; the next look starts here
                        self._after[campaign_id] = min(self._after[campaign_id], row["id"] - 1)
                        continue
                    context: dict[str, Any] = row
                    if row["profile"] is None:
                        if rules.reply:
                            context = {"msisdn": row["msisdn"]}
                        elif not rules.test:
                            raise TemplateError("the subscriber no longer exists")
                        else:
                            context = {**sample_context(), "msisdn": row["msisdn"]}
                    context["sender"], context["campaign"] = sender_id, rules.name
                    if rules.reply and row["preset"] is not None:  # made when queued (replies.queue_text)
                        rendered = Rendered(row["preset"], analyse(row["preset"]))
                    else:
                        rendered = templates.pick(row["language"], row["arm"] or "A").render(context)
                    check_parts(rendered, rules.max_parts)
                except NoRoute as exc:  # after a failover, the last provider's own code says most
                    failures.append({"id": row["id"], "error": (row["last_error"] if tried else None)
                                     or str(exc)[:64]})
                    continue
                except (TemplateError, SecurityError, LookupError) as exc:
                    failures.append({"id": row["id"], "error": str(exc)[:64]})
                    continue
                parts = rendered.info.parts
                price = route.price * parts if route.price is not None else None
                updates.append({"id": row["id"], "body": rendered.text, "encoding": rendered.info.encoding,
                                "parts": parts, "provider_id": route.provider_id,
                                "price": Decimal(price) if price is not None else None,
                                "currency": route.currency, "network": route.network,
                                "batch_id": batch_ids[route.provider_id]})
                by_provider[route.provider_id].append(OutboundSms(row["id"], row["msisdn"], sender_id,
                                                                  rendered.text))
            pending = messages.c.status == st.PENDING
            if updates:
                update_from_values(conn, messages, "id", updates,
                                   extra={"status": st.QUEUED, "queued_at": func.now()}, where=pending)
                record_batch(conn, "queued", campaign_id, [u["id"] for u in updates])
            if held:
                update_from_values(conn, messages, "id", held, extra={"status": st.HELD}, where=pending)
            if failures:
                update_from_values(conn, messages, "id", failures,
                                   extra={"status": st.FAILED, "done_at": func.now()}, where=pending)
                record(conn, "failed", ({"campaign_id": campaign_id, "message_id": f["id"],
                                         "data": {"error": f["error"]}} for f in failures))
        for provider_id, batch in by_provider.items():
            batches.publish(self.broker, provider_id, campaign_id, batch, batch_ids[provider_id], rules.valid_until,
                            always=rules.reply)
            metrics.dispatched(len(batch))
        return len(updates) + len(failures) + len(held)


    def _take(self, conn, campaign_id: int, wanted: int, fields: frozenset[str]) -> list:  # noqa: ANN001
        """The campaign's next pending messages after its cursor, from its first when it reaches the end,
        with the subscriber columns its templates use (and those choosing the variant and the hour)."""
        needed = fields | {"language", "timezone"}
        columns = [getattr(Subscriber, f) for f in (*FIELDS, "attributes") if f in needed and f != "msisdn"]
        now = time.monotonic()
        after = self._after.get(campaign_id, 0)
        if now >= self._rescan_at.get(campaign_id, 0.0):
            after, self._rescan_at[campaign_id] = 0, now + RESCAN_EVERY
        while True:
            query = (select(Message.id, Message.msisdn, Message.tried_providers, Message.error.label("last_error"),
                            Message.provider_id.label("came_by"), Message.body.label("preset"),
                            Message.arm, Subscriber.id.label("profile"), *columns)
                     .outerjoin(Subscriber, Subscriber.id == Message.subscriber_id)
                     .where(Message.campaign_id == campaign_id, Message.status == st.PENDING, Message.id > after)
                     .order_by(Message.id).limit(wanted))
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update(of=Message, skip_locked=True)
            result = conn.execute(query)
            keys = tuple(result.keys())
            rows = [dict(zip(keys, row, strict=True)) for row in result]
            if rows or after == 0:
                break
            after = 0  # the end: start over for what became pending behind the cursor
        self._after[campaign_id] = rows[-1]["id"] if len(rows) == wanted else 0
        if rows:
            self._drained.discard(campaign_id)
        else:
            self._drained.add(campaign_id)
        return rows


def _came_by(router: Router, msisdn: str, provider_id: int | None, tried: list[int]) -> Route | None:
    """A keyword's reply goes back through the provider its MO came by (the short code is that
    provider's), while that provider is healthy and can reach the number; else by the usual route."""
    if provider_id is None:
        return None
    return next((r for r in router.candidates(msisdn, tried) if r.provider_id == provider_id and r.healthy), None)


def _route(router: Router, msisdn: str, tried: list[int], last_error: str | None) -> Route:
    """The cheapest route not yet tried; after a provider was merely down or overloaded and no
    other route is left, the tried ones again: the message waits for a provider, never fails for it."""
    try:
        return router.choose(msisdn, exclude=tried)
    except NoRoute:
        if tried and provider_trouble(last_error):
            return router.choose(msisdn)
        raise
