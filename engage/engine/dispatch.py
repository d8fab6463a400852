"""The dispatcher: takes a campaign's pending messages a batch at a time, renders them,
routes them, marks them queued, and publishes one broker message per provider per batch.

The database is marked first and the broker second: a crash in between leaves messages
`queued` in the database, where they can be found again; never a message the broker
carries that the database does not know about.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from jinja2.exceptions import SecurityError
from sqlalchemy import Engine, bindparam, func, select, update

from engage.engine import statuses as st
from engage.engine.broker import Broker
from engage.engine.campaigns import complete_finished
from engage.engine.events import record
from engage.engine.queues import send_queue
from engage.engine.routing import NoRoute, Router
from engage.engine.store.schema import Campaign, Message, Subscriber
from engage.engine.templates.render import FIELDS, TemplateError
from engage.engine.templates.store import TemplateSet

messages = Message.__table__


class Dispatcher:
    def __init__(self, engine: Engine, broker: Broker, *, batch_size: int = 500):
        self.engine = engine
        self.broker = broker
        self.batch_size = batch_size
        self._templates: dict[int, TemplateSet] = {}

    def run_once(self) -> int:
        """Dispatch one batch of every running campaign; returns how many messages were queued."""
        with self.engine.connect() as conn:
            running = conn.execute(select(Campaign.id, Campaign.template_id, Campaign.sender_id).where(
                Campaign.status == st.CAMPAIGN_RUNNING).order_by(Campaign.id)).all()
        queued = sum(self.dispatch_batch(c.id, c.template_id, c.sender_id) for c in running)
        complete_finished(self.engine)
        return queued

    def _template_set(self, conn, template_id: int) -> TemplateSet:  # noqa: ANN001
        if template_id not in self._templates:
            self._templates[template_id] = TemplateSet(conn, template_id)
        return self._templates[template_id]

    def dispatch_batch(self, campaign_id: int, template_id: int, sender_id: str) -> int:
        columns = [getattr(Subscriber, f) for f in FIELDS if f != "msisdn"] + [Subscriber.attributes]
        query = (select(Message.id, Message.msisdn, *columns)
                 .join(Subscriber, Subscriber.id == Message.subscriber_id)
                 .where(Message.campaign_id == campaign_id, Message.status == st.PENDING)
                 .order_by(Message.id).limit(self.batch_size))
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update(of=Message, skip_locked=True)
        by_provider: dict[int, list[dict[str, Any]]] = defaultdict(list)
        with self.engine.begin() as conn:
            rows = conn.execute(query).mappings().all()
            if not rows:
                return 0
            templates = self._template_set(conn, template_id)
            router = Router(conn)
            updates, failures = [], []
            for row in rows:
                context = dict(row)
                context["sender"] = sender_id
                try:
                    rendered = templates.for_language(row["language"]).render(context)
                    route = router.choose(row["msisdn"])
                except (NoRoute, TemplateError, SecurityError) as exc:
                    failures.append({"mid": row["id"], "error": str(exc)[:64]})
                    continue
                updates.append({"mid": row["id"], "body": rendered.text, "encoding": rendered.info.encoding,
                                "parts": rendered.info.parts, "provider_id": route.provider_id})
                by_provider[route.provider_id].append(
                    {"id": row["id"], "to": row["msisdn"], "from": sender_id, "text": rendered.text})
            if updates:
                conn.execute(update(messages).where(messages.c.id == bindparam("mid")).values(
                    status=st.QUEUED, body=bindparam("body"), encoding=bindparam("encoding"),
                    parts=bindparam("parts"), provider_id=bindparam("provider_id"), queued_at=func.now()),
                    updates)
                record(conn, "queued", ({"campaign_id": campaign_id, "message_id": u["mid"]} for u in updates))
            if failures:
                conn.execute(update(messages).where(messages.c.id == bindparam("mid")).values(
                    status=st.FAILED, error=bindparam("error"), done_at=func.now()), failures)
                record(conn, "failed", ({"campaign_id": campaign_id, "message_id": f["mid"]} for f in failures))
        for provider_id, batch in by_provider.items():
            body = json.dumps({"provider_id": provider_id, "campaign_id": campaign_id, "messages": batch})
            self.broker.publish(send_queue(provider_id), body.encode())
        return len(rows)
