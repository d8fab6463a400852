"""/api/v1/loyalty/(earn|burn|consent|balance|reversal): the partner API, for merchants' systems.

A partner authenticates with ``Authorization: Bearer <partner token>``: a third kind of token beside
api_auth's two, issued by `engage loyalty partner add` and found by its SHA-256 in the engine
(engine/loyalty/partners.py). It acts for that partner only, in its programme; users' and deployment
tokens are not taken here, nor is a partner's token anywhere else. No session, so no XSRF cookie.
Every request is a POST with a JSON body and an Idempotency-Key header; the engine checks the
fields, runs the operation and keeps its answer by key (engine/loyalty/partner_api.py). Errors are
{"error": ..., "field": ...}. Neither the token nor a consent code is logged: Tornado's access log
shows the path alone, and the body is never logged."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import tornado.web

from engage import config
from engage.engine.json_input import BodyError, parse_object
from engage.engine.loyalty import partner_api
from engage.web.api_auth import bearer
from engage.web.off_loop import off_loop

log = logging.getLogger(__name__)


class LoyaltyPartnerApi(tornado.web.RequestHandler):
    def check_xsrf_cookie(self) -> None:
        """Partners' systems hold no XSRF cookie; their token authenticates them instead."""

    async def post(self, operation: str) -> None:
        db = self.settings["db"]
        partner = await off_loop(partner_api.authenticate, db, bearer(self.request.headers.get("Authorization")))
        if partner is None:
            self.set_header("WWW-Authenticate", 'Bearer realm="engage loyalty partners"')
            self._answer(401, {"error": "Authorization: a partner's token is needed (Bearer <token>); this one is "
                                        "unknown, replaced, or its partner is inactive", "field": "Authorization"})
            return
        try:
            body = parse_object(self.request.body)
        except BodyError as exc:
            self._answer(400, {"error": str(exc), "field": str(exc).split(":", 1)[0]})
            return
        answer = await off_loop(partner_api.handle, db, partner, operation,
                                self.request.headers.get(partner_api.KEY_HEADER), body,
                                region=config.load().default_region)
        self._answer(answer.status, answer.body)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.finish(body)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """An unexpected failure is logged with a reference the answer gives, never the request's body."""
        if isinstance(value, tornado.web.HTTPError):
            super().log_exception(typ, value, tb)
            return
        self._reference = secrets.token_hex(6)
        log.error("internal error %s in %s %s", self._reference, self.request.method, self.request.path,
                  exc_info=(typ, value, tb))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reference = getattr(self, "_reference", None)
        self.finish({"error": f"an internal error; its reference in the server's log is {reference}"
                     if reference else self._reason})


def _operation(summary: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """The partner API's OpenAPI details: its own token, the Idempotency-Key, the body and the answers."""
    return {
        "security": [{"partner": []}],
        "parameters": [{"name": partner_api.KEY_HEADER, "in": "header", "required": True,
                        "description": "Unique per request, 1 to 100 printable characters; a retry sends the same "
                                       "and is answered as the first time, changing nothing",
                        "schema": {"type": "string", "maxLength": 100}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": properties, "required": required, "additionalProperties": False}}}},
        "responses": {"200": {"description": summary, "content": {"application/json": {}}},
                      **{code: {"description": what + '; {"error": ..., "field": ...}'} for code, what in (
                          ("400", "A field or the Idempotency-Key missing or unreadable"),
                          ("401", "No partner token, or not a valid one"),
                          ("403", "The member's consent code is wrong, used, expired or was never sent"),
                          ("404", "Not a member of the programme, or no such transaction of this partner"),
                          ("409", "In conflict with what was done: too few points, a transaction done under "
                                  "another key, reversed already, a membership not active"),
                          ("422", "Valid but not possible: an amount that earns no points, a key reused for "
                                  "another request"),
                          ("429", "Too many consent codes asked for this member within the hour"))}},
    }


MSISDN = {"type": "string", "description": "The member's number (E.164, or national in the default region)"}
TRANSACTION = {"type": "string", "maxLength": 64, "description": "The partner's own id of the purchase"}
CODE = {"type": "string", "pattern": "^[0-9]{6}$", "description": "The code the member was sent (consent)"}

# path -> method -> (summary, takes a JSON body), for engage.web.openapi
OPERATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "/api/v1/loyalty/earn": {"post": ("Partner: points for a member's purchase (floor(amount x earn rate))", True)},
    "/api/v1/loyalty/burn": {"post": ("Partner: pay with points, with the member's consent code", True)},
    "/api/v1/loyalty/consent": {"post": ("Partner: send the member a one-time consent code by SMS", True)},
    "/api/v1/loyalty/balance": {"post": ("Partner: the member's balance, with their consent code", True)},
    "/api/v1/loyalty/reversal": {"post": ("Partner: undo a transaction's earn and burn (or the kind named)", True)},
}
# path -> method -> what the partner API's operations say beyond the common shape
DETAILS: dict[str, dict[str, dict[str, Any]]] = {
    "/api/v1/loyalty/earn": {"post": _operation(
        "The points earned", {"msisdn": MSISDN, "amount": {"type": "string", "description": "The purchase, e.g. "
                                                                                               "\"125.50\""},
                              "transaction_id": TRANSACTION, "currency": {"type": "string"}},
        ["msisdn", "amount", "transaction_id"])},
    "/api/v1/loyalty/burn": {"post": _operation(
        "The points burnt, their value and the points left",
        {"msisdn": MSISDN, "points": {"type": "integer", "minimum": 1}, "transaction_id": TRANSACTION, "code": CODE},
        ["msisdn", "points", "transaction_id", "code"])},
    "/api/v1/loyalty/consent": {"post": _operation(
        "The code is sent; when it expires", {"msisdn": MSISDN}, ["msisdn"])},
    "/api/v1/loyalty/balance": {"post": _operation(
        "The available points and those expiring soon", {"msisdn": MSISDN, "code": CODE}, ["msisdn", "code"])},
    "/api/v1/loyalty/reversal": {"post": _operation(
        "What was reversed", {"transaction_id": TRANSACTION, "kind": {"type": "string", "enum": ["earn", "burn"]}},
        ["transaction_id"])},
}

LOYALTY_API_ROUTES = [(r"/api/v1/loyalty/(earn|burn|consent|balance|reversal)", LoyaltyPartnerApi)]
