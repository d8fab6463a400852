"""What the USSD gateway specs share: a small menu on *123#, gateways added as `engage ussd gateway
add` adds them, and a plain HTTP client of the /ussd/<name> endpoint (no cookies: aggregators
keep none)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from engage.engine.store.schema import Event
from engage.engine.ussd import menus
from engage.engine.ussd.gateways.records import add_gateway

CODE = "*123#"
MENU = """\
name: Loyalty
language: en
start: home
screens:
  home:
    type: menu
    text: Welcome to Rewards
    options:
      - label: Balance
        next: balance
      - label: Pick a code
        next: pick
  balance:
    type: end
    text: Your balance is 120 points.
  pick:
    type: input
    text: Enter a code
    validate: {kind: regex, pattern: "[0-9*]{1,10}"}
    save: picked
    next: thanks
  thanks:
    type: end
    text: "You picked {{ picked }}"
"""
HOME = "Welcome to Rewards\n1. Balance\n2. Pick a code"


def put_menu(engine: Engine, code: str = CODE) -> int:
    with engine.begin() as conn:
        return menus.save(conn, MENU, code=code, actor="test")


def gateway(engine: Engine, kind: str, name: str | None = None, **config: Any) -> tuple[int, str]:
    """(id, token) of a new gateway of this kind."""
    with engine.begin() as conn:
        return add_gateway(conn, kind, name or kind, config, actor="test")


def hop_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Event).where(Event.kind == "ussd_step")).scalar_one()


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


def post(base: str, path: str, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> Answer:
    request = urllib.request.Request(base + path, data=body, method="POST",
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, response.headers.get("Content-Type", ""), response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers.get("Content-Type", ""), exc.read())


def post_form(base: str, path: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> Answer:
    return post(base, path, urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded", headers)


def post_json(base: str, path: str, body: Any, headers: dict[str, str] | None = None) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return post(base, path, raw, "application/json", headers)
