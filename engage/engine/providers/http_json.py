"""The generic JSON provider kind: one POST of a JSON body per message, with the request and the
delivery callbacks (POSTed to /callbacks/http/<provider id>) described by configuration, so a new
HTTP aggregator needs a config, not code.

    {"url": "https://api.example.com/v1/sms", "method": "POST",
     "headers": {"Authorization": "Bearer ..."},
     "body": {"to": "{to}", "from": "{sender}", "text": "{text}", "reference": "{id}",
              "callback_url": "{callback_url}", "priority": "high"},
     "response_id_path": "messages.0.id",
     "callback": {"id_field": "id", "status_field": "status", "error_field": "error_code",
                  "status_map": {"delivered": "DELIVRD", "failed": "UNDELIV"}},
     "callback_base": "https://engage.example.com"}

Strings in ``body`` may hold placeholders (see PLACEHOLDERS); a string that is exactly one
placeholder takes the value's own JSON type (``"{parts}"`` becomes a number).

Subscribers' own messages (MOs) are POSTed to /callbacks/http/<provider id>/mo in one fixed shape,
with the same callback token as receipts (read_inbound):

    {"from": "+998901234567", "to": "1234", "text": "STOP", "id": "mo-1", "received_at": "2025-01-15T12:00:00Z"}

or a list of such objects (at most MAX_INBOUND); id and received_at are optional and checked when
given. id, the gateway's own id of the MO, is kept: the same id again from the same provider, at
any later time, is a repeat (keyword handler). received_at is not stored (inbound_messages keeps the
time engage received it); other fields are ignored. A gateway that sends one again without an id
(it timed out on our answer) is caught too: the same text from the same number to the same
destination within two minutes acts once.
"""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tornado.httpclient import HTTPRequest, HTTPResponse

from engage.engine.providers import inbound_fields
from engage.engine.providers.base import CallbackRequest, MalformedCallback, OutboundSms, register
from engage.engine.providers.callback_fields import error_code, from_unix, message_id
from engage.engine.providers.http_base import (
    COMMON_DEFAULTS,
    HttpProvider,
    check_unknown_keys,
    common_config,
    is_secret_name,
)
from engage.engine.smpp.receipts_text import FINAL_STATS, NON_FINAL_STATS
from engage.engine.sms_encoding import TextInfo

log = logging.getLogger(__name__)

KEYS = {"url", "method", "headers", "body", "response_id_path", "callback", "callback_base", "callback_token",
        *COMMON_DEFAULTS}
CALLBACK_KEYS = {"id_field", "status_field", "status_map", "error_field", "done_at_field", "items_path"}
PLACEHOLDERS = {
    "to": "recipient in E.164, with +", "to_digits": "recipient without +", "sender": "sender id",
    "text": "message text", "id": "engage's id for this submit (receipts may quote it)",
    "message_id": "engage's message number", "callback_url": "where receipts go, with the token",
    "encoding": "gsm7 or ucs2", "parts": "number of SMS parts",
}
STATS = FINAL_STATS | NON_FINAL_STATS
MAX_INBOUND = 1000  # MOs one callback may carry
_FORMATTER = string.Formatter()


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path ("messages.0.id"); numbers index lists. None when absent."""
    for step in path.split("."):
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and step.lstrip("-").isdigit() and -len(data) <= int(step) < len(data):
            data = data[int(step)]
        else:
            return None
    return data


def check_path(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value or any(not step for step in value.split(".")):
        raise ValueError(f"{field}: a dotted path into the JSON such as 'messages.0.id', not {value!r}")
    return value


def _check_template(value: Any, field: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _check_template(item, f"{field}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_template(item, f"{field}.{i}")
    elif isinstance(value, str):
        try:
            pieces = list(_FORMATTER.parse(value))
        except ValueError as exc:
            raise ValueError(f"{field}: {exc} in {value!r} (write {{{{ and }}}} for literal braces)") from exc
        for _literal, name, spec, conversion in pieces:
            if name is None:
                continue
            if name not in PLACEHOLDERS or spec or conversion:
                raise ValueError(f"{field}: unknown placeholder {{{name}}}; known: "
                                 + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))


def _fill(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in values:
            return values[value[1:-1]]
        return value.format_map(values)  # names were checked when the config was saved
    return value


def check_callback(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise ValueError("callback: required, an object with id_field, status_field and status_map")
    unknown = sorted(set(config) - CALLBACK_KEYS)
    if unknown:
        raise ValueError(f"callback.{unknown[0]}: unknown (known: {', '.join(sorted(CALLBACK_KEYS))})")
    for key in ("id_field", "status_field"):
        check_path(config.get(key), f"callback.{key}")
    for key in ("error_field", "done_at_field", "items_path"):
        if config.get(key) is not None:
            check_path(config[key], f"callback.{key}")
    status_map = config.get("status_map")
    if not isinstance(status_map, dict) or not status_map:
        raise ValueError("callback.status_map: required, the provider's status words -> receipt stat words")
    out = {}
    for word, stat in status_map.items():
        if not isinstance(stat, str) or stat.upper() not in STATS:
            raise ValueError(f"callback.status_map.{word}: {stat!r} is not one of {', '.join(sorted(STATS))}")
        out[str(word)] = stat.upper()
    return {**config, "status_map": out}


def _done_at(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return from_unix(value)
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).isoformat()
        except ValueError:
            return from_unix(value)
    return None


def read_receipts(mapping: Mapping[str, Any], payload: bytes) -> list[dict[str, Any]]:
    """One receipt, or a JSON list of them (or a list at ``items_path``), read with the
    provider's callback mapping (see check_callback)."""
    try:
        data = json.loads(payload or b"")
    except ValueError as exc:
        raise MalformedCallback(f"body: not JSON ({exc})") from exc
    if mapping.get("items_path"):
        data = dig(data, mapping["items_path"])
        if not isinstance(data, list | dict):
            raise MalformedCallback(f"{mapping['items_path']}: missing; it must hold the receipts")
    items, many = (data, True) if isinstance(data, list) else ([data], False)
    status_map = {str(k).lower(): v for k, v in mapping["status_map"].items()}
    out = []
    for i, item in enumerate(items):
        where = f"receipt {i}: " if many else ""
        if not isinstance(item, dict):
            raise MalformedCallback(f"{where}a receipt must be a JSON object, not {type(item).__name__}")
        try:
            provider_id = message_id(dig(item, mapping["id_field"]), mapping["id_field"])
        except MalformedCallback as exc:
            raise MalformedCallback(f"{where}{exc}") from None
        word = dig(item, mapping["status_field"])
        if isinstance(word, bool) or not isinstance(word, str | int) or not str(word).strip():
            raise MalformedCallback(f"{where}{mapping['status_field']}: missing; it must hold the status")
        word = str(word).strip()
        stat = status_map.get(word.lower()) or (word.upper() if word.upper() in STATS else None)
        if stat is None:
            log.warning("callback status %r is not in the provider's status_map; stored as UNKNOWN", word[:40])
            stat = "UNKNOWN"
        err = dig(item, mapping["error_field"]) if mapping.get("error_field") else None
        try:
            err = error_code(err, mapping.get("error_field", ""))
        except MalformedCallback as exc:
            raise MalformedCallback(f"{where}{exc}") from None
        done = dig(item, mapping["done_at_field"]) if mapping.get("done_at_field") else None
        out.append({"id": provider_id, "stat": stat, "err": err, "done_at": _done_at(done)})
    return out


def read_inbound(payload: bytes) -> list[dict[str, Any]]:
    """The MOs of an MO callback (see the module's docstring), ready to store; MalformedCallback
    naming the field, and the message by its place in a list, at the first one that cannot be read:
    the gateway is told what to fix, and nothing of the callback is stored until it sends it whole."""
    try:
        data = json.loads(payload or b"")
    except ValueError as exc:
        raise MalformedCallback(f"body: not JSON ({exc})") from exc
    items, many = (data, True) if isinstance(data, list) else ([data], False)
    if len(items) > MAX_INBOUND:
        raise MalformedCallback(f"body: {len(items)} messages; at most {MAX_INBOUND} a callback")
    out = []
    for i, item in enumerate(items):
        where = f"message {i}: " if many else ""
        if not isinstance(item, dict):
            raise MalformedCallback(f"{where}a message must be a JSON object with from, to and text, "
                                    f"not {type(item).__name__}")
        try:
            mo = {"source": inbound_fields.address(item.get("from"), "from"),
                  "destination": inbound_fields.address(item.get("to"), "to"),
                  "text": inbound_fields.text(item.get("text"), "text")}
            mo["provider_ref"] = message_id(item["id"], "id") if item.get("id") is not None else None
            inbound_fields.moment(item.get("received_at"), "received_at")
        except MalformedCallback as exc:
            raise MalformedCallback(f"{where}{exc}") from None
        out.append(mo)
    return out


@register("http_json")
class HttpJsonProvider(HttpProvider):
    callback_name = "http"
    inbound_methods = frozenset({"POST"})

    @classmethod
    def parse_callback(cls, config: dict[str, Any], request: CallbackRequest) -> list[dict[str, Any]]:
        mapping = config.get("callback")
        if not isinstance(mapping, dict):
            raise MalformedCallback("the provider's config has no callback mapping")
        return read_receipts(mapping, request.body)

    @classmethod
    def parse_inbound(cls, config: dict[str, Any], request: CallbackRequest) -> list[dict[str, Any]]:
        return read_inbound(request.body)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        out = common_config(config)
        check_unknown_keys(config, KEYS, "http_json")
        method = str(config.get("method", "POST")).upper()
        if method not in ("POST", "PUT"):
            raise ValueError(f"method: POST or PUT, not {config.get('method')!r}")
        out["method"] = method
        headers = config.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in headers.items()):
            raise ValueError("headers: an object of header name -> text value")
        out["headers"] = headers
        body = config.get("body")
        if not isinstance(body, dict) or not body:
            raise ValueError("body: required, the JSON object to send, with placeholders such as {to} and {text}")
        _check_template(body, "body")
        if config.get("response_id_path") is not None:
            check_path(config["response_id_path"], "response_id_path")
        out["callback"] = check_callback(config.get("callback"))
        return out

    def build_request(self, sms: OutboundSms, our_id: str, info: TextInfo) -> HTTPRequest:
        values = {"to": sms.to, "to_digits": sms.to.lstrip("+"), "sender": sms.sender, "text": sms.text,
                  "id": our_id, "message_id": sms.id, "callback_url": self.callback_url(self.callback_name),
                  "encoding": info.encoding, "parts": info.parts}
        body = json.dumps(_fill(self.config["body"], values), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json",
                   **self.config["headers"]}
        timeout = float(self.config["timeout"])
        return HTTPRequest(self.config["url"], method=self.config["method"], headers=headers, body=body,
                           follow_redirects=False, connect_timeout=timeout, request_timeout=timeout)

    def read_answer(self, response: HTTPResponse, our_id: str) -> tuple[str | None, str | None]:
        """Our own id unless response_id_path says where the provider's is. An accepted answer
        without that id fails the message visibly: its receipts could never be matched."""
        path = self.config.get("response_id_path")
        if not path:
            return our_id, None
        try:
            found = dig(json.loads(response.body or b"null"), path)
        except ValueError:
            found = None
        if isinstance(found, str | int) and not isinstance(found, bool) and 0 < len(str(found).strip()) <= 72:
            return str(found).strip(), None
        log.warning("provider %s: answer %s has no id at %r: %r", self.name, response.code, path,
                    (response.body or b"")[:200])
        return None, "http_json:no-id"

    def status(self) -> dict[str, Any]:
        headers = {k: ("***" if is_secret_name(k) else v) for k, v in self.config.get("headers", {}).items()}
        return {**super().status(), "headers": headers}
