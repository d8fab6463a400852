"""/api/v1/loyalty/members: the operator's own systems (a CRM, a self-care app) enrol a subscriber
in a programme, "api" being the way they came, and read a member's status, level and balance. The
caller uses a user's or the deployment's token, or a signed-in session of a role that may.

Enrolling is idempotent: a member enrolled again is answered as one, and nothing changes. Numbers
are read as people write them and answered in E.164. A caller bound to a branch enrols and reads
only that branch's subscribers; another branch's is "not found", as everywhere else. Each enrolment
is in the audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from engage import config
from engage.engine import phones
from engage.engine.audit import audit
from engage.engine.loyalty import members, overview, programmes
from engage.engine.users.roles import LOYALTY_ADJUSTERS, LOYALTY_READERS
from engage.web.audience_api import ApiBase, ApiError
from engage.web.off_loop import off_loop
from engage.web.subscribers_api import plain


class LoyaltyMembersApi(ApiBase):
    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": LOYALTY_READERS, "POST": LOYALTY_ADJUSTERS}

    async def get(self) -> None:
        code, msisdn = self._programme_code(self.get_query_argument("programme", "")), self._number(
            self.get_query_argument("msisdn", ""))
        self.write(plain(await off_loop(self._read, code, msisdn)))

    async def post(self) -> None:
        body = self.body()
        code, msisdn = self._programme_code(body.get("programme")), self._number(body.get("msisdn"))
        enrolled = await off_loop(self._enrol, code, msisdn)
        self.set_status(201 if enrolled else 200)
        self.write(plain({**await off_loop(self._read, code, msisdn), "enrolled_now": enrolled}))

    def _enrol(self, code: str, msisdn: str) -> bool:
        with self.db.begin() as conn:
            programme = self._programme(conn, code)
            try:
                member_id, new = members.enrol_number(conn, programme.id, msisdn, "api", branch=self.scope.branch)
            except LookupError as exc:
                raise ApiError(404, f"msisdn: {exc}") from None
            if new:
                audit(conn, self.actor(), "loyalty.enrol", "loyalty_member", member_id, programme=programme.code,
                      via="api")
            return new

    def _read(self, code: str, msisdn: str) -> dict[str, Any]:
        with self.db.connect() as conn:
            programme = self._programme(conn, code)
            found = overview.member(conn, programme.id, msisdn, branch=self.scope.branch, limit=0)
        if found is None:
            raise ApiError(404, f"msisdn: {msisdn} is not a member of {programme.code}")
        b = found["balance"]
        return {"programme": programme.code, "msisdn": msisdn, "status": found["status"], "level": found["level"],
                "enrolled_via": found["enrolled_via"], "enrolled_at": found["enrolled_at"],
                "available": b.available, "held": b.held, "earned": b.earned, "redeemed": b.redeemed,
                "expired": b.expired, "expiring": [{"on": at, "points": p} for at, p in b.expiring]}

    @staticmethod
    def _programme(conn: Any, code: str) -> programmes.Programme:
        try:
            return programmes.get(conn, code)
        except LookupError:
            raise ApiError(404, f"programme: there is no programme {code!r}") from None

    @staticmethod
    def _programme_code(value: Any) -> str:
        if not isinstance(value, str) or not programmes.CODE.match(value.strip().lower()):
            raise ApiError(400, "programme: the programme's code, e.g. \"club\"")
        return value.strip().lower()

    @staticmethod
    def _number(value: Any) -> str:
        try:
            return phones.to_e164(value if isinstance(value, str) else "", config.load().default_region)
        except phones.InvalidNumber:
            raise ApiError(400, f"msisdn: {str(value)[:32]!r} is not a phone number") from None


OPERATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "/api/v1/loyalty/members": {
        "get": ("A member's status, level and balance: ?programme=club&msisdn=+998901234567", False),
        "post": ("Enrol a subscriber: {\"programme\": \"club\", \"msisdn\": ...}; 201 when enrolled now, 200 when "
                 "already a member", True)},
}

LOYALTY_MEMBERS_API_ROUTES = [(r"/api/v1/loyalty/members", LoyaltyMembersApi)]
