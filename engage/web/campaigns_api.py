"""/api/v1 for campaigns and templates, mirroring the pages: create, read, change and delete a draft,
move it through its states (submit, approve, reject, launch, pause, resume, cancel), live figures;
templates listed, read, created, changed and deleted. Bearer tokens act as "api" within their
branch; signed-in sessions by role. Refusals carry the engine's own message (the wizard shows the
same text): 400 bad input, with "field" when one is at fault; 404 not there (or another branch's);
409 not in a state that allows it."""

from __future__ import annotations

from typing import Any, ClassVar

from engage.engine import campaigns
from engage.engine.campaigns import CampaignError, lifecycle, overview, records
from engage.engine.campaigns.estimate import estimate, jsonable
from engage.engine.templates import store as templates
from engage.engine.users.roles import CAMPAIGN_ACTION_ROLES, CAMPAIGN_MAKERS, CAMPAIGN_READERS
from engage.web.audience_api import ApiBase, ApiError
from engage.web.body_shapes import ShapeError, campaign_body, template_body
from engage.web.campaign_live import figures
from engage.web.off_loop import off_loop

CREATE_KEYS = ("name", "segment_id", "template_id", "sender_id")


def _template_fields(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    try:
        return template_body(data, creating=creating)
    except ShapeError as exc:
        raise ApiError(400, str(exc)) from None


def campaign_list(db: Any, branch: str | None) -> list[dict[str, Any]]:
    """The latest 100 campaigns with their figures (campaigns.overview: grouped once, time-bounded).
    Blocking: call it off the IO loop."""
    with db.connect() as conn:
        ids = overview.latest(conn, branch)
        conn.rollback()  # the figures' budget needs a transaction of its own
        return overview.summaries(conn, ids)


def campaign_summary(db: Any, campaign_id: int, branch: str | None) -> dict[str, Any] | None:
    """The campaign's summary (its figures time-bounded); None also when it belongs to another
    branch than the one asking. Blocking: call it off the IO loop."""
    if not visible(db, campaign_id, branch):
        return None
    with db.connect() as conn:
        found = overview.summaries(conn, [campaign_id])
    return found[0] if found else None


def visible(db: Any, campaign_id: int, branch: str | None) -> bool:
    """Whether the campaign exists for someone of this branch (None: every branch)."""
    with db.connect() as conn:
        return records.visible(conn, campaign_id, branch)


class CampaignBase(ApiBase):
    def refuse(self, exc: CampaignError) -> None:
        """The engine's refusal as the answer: 409 for a campaign past its draft, else 400 naming the field."""
        status = 409 if isinstance(exc, records.NotADraft) else 400
        self.fail(status, str(exc), **({"field": exc.field} if exc.field else {}))


class CampaignsApi(CampaignBase):
    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": CAMPAIGN_READERS, "POST": CAMPAIGN_MAKERS}

    async def get(self) -> None:
        self.write({"campaigns": await off_loop(campaign_list, self.db, self.scope.branch)})

    def post(self) -> None:
        data = self.body()
        missing = [k for k in CREATE_KEYS if k not in data]
        if missing:
            raise ApiError(400, f"{missing[0]}: missing (needs {', '.join(CREATE_KEYS)})")
        try:
            campaign_body(data)
        except ShapeError as exc:
            raise ApiError(400, str(exc)) from None
        options = {k: v for k, v in data.items() if k not in CREATE_KEYS}
        try:
            with self.db.begin() as conn:
                campaign_id = campaigns.create(conn, name=data["name"], segment_id=data["segment_id"],
                                               template_id=data["template_id"], sender_id=data["sender_id"],
                                               actor=self.actor(), branch=self.scope.branch, **options)
        except CampaignError as exc:
            self.refuse(exc)
            return
        self.set_status(201)
        self.write({"campaign_id": campaign_id})


class CampaignApi(CampaignBase):
    """One campaign: read; while it is a draft, change (only the fields given; an option given as null
    goes back to its default) or delete. The campaign stays in its branch."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {
        "GET": CAMPAIGN_READERS, "PUT": CAMPAIGN_MAKERS, "DELETE": CAMPAIGN_MAKERS}

    async def get(self, campaign_id: str) -> None:
        summary = await off_loop(campaign_summary, self.db, int(campaign_id), self.scope.branch)
        if summary is None:
            raise ApiError(404, f"campaign {campaign_id} does not exist")
        self.write(summary)

    def put(self, campaign_id: str) -> None:
        self._visible(campaign_id)
        data = self.body()
        if not data:
            raise ApiError(400, f"body: give the fields to change ({', '.join(records.FIELDS)} or options)")
        try:
            records.known_fields(data)
            with self.db.begin() as conn:
                changes = records.update_draft(conn, int(campaign_id), actor=self.actor(), **data)
        except CampaignError as exc:
            self.refuse(exc)
            return
        self.write({"campaign_id": int(campaign_id), "changes": changes})

    def delete(self, campaign_id: str) -> None:
        self._visible(campaign_id)
        try:
            with self.db.begin() as conn:
                records.delete_draft(conn, int(campaign_id), actor=self.actor())
        except CampaignError as exc:
            self.refuse(exc)
            return
        self.write({"campaign_id": int(campaign_id), "deleted": True})

    def _visible(self, campaign_id: str) -> None:
        if not visible(self.db, int(campaign_id), self.scope.branch):
            raise ApiError(404, f"campaign {campaign_id} does not exist")


class CampaignStatsApi(ApiBase):
    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": CAMPAIGN_READERS}

    async def get(self, campaign_id: str) -> None:
        if not visible(self.db, int(campaign_id), self.scope.branch):
            raise ApiError(404, f"campaign {campaign_id} does not exist")
        try:
            self.write(await off_loop(figures, self.db, int(campaign_id)))  # as the live websocket reads them
        except overview.FiguresTooSlow as exc:
            raise ApiError(503, f"campaign {campaign_id}'s figures: {exc}; try again later") from None


class CampaignEstimateApi(ApiBase):
    """What launching now would cost: audience by route, parts, per currency, the unpriced counted."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": CAMPAIGN_READERS}

    async def get(self, campaign_id: str) -> None:
        if not visible(self.db, int(campaign_id), self.scope.branch):
            raise ApiError(404, f"campaign {campaign_id} does not exist")

        def cost() -> dict[str, Any]:  # groups the whole audience by route: off the IO loop
            with self.db.connect() as conn:
                return jsonable(estimate(conn, int(campaign_id)))

        try:
            self.write(await off_loop(cost))
        except ValueError as exc:  # its segment no longer compiles, or is too slow to group within the budget
            raise ApiError(409, f"cannot estimate: {exc}") from None


class CampaignActionApi(ApiBase):
    """POST /api/v1/campaigns/N/<action>; reject takes {"reason": ...}."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {
        "POST": frozenset().union(*CAMPAIGN_ACTION_ROLES.values())}

    def post(self, campaign_id: str, action: str) -> None:
        user = self.request_user()  # a user token acts with its owner's role, approval rules included
        if user is not None and user.role not in CAMPAIGN_ACTION_ROLES[action]:
            raise ApiError(403, f"the {user.role} role may not {action} campaigns")
        cid = int(campaign_id)
        if not visible(self.db, cid, self.scope.branch):
            raise ApiError(404, f"campaign {campaign_id} does not exist")
        reason = str(self.body().get("reason", "")) if action == "reject" else ""
        try:
            result = lifecycle.perform(self.db, cid, action, actor=self.actor(), role=user.role if user else None,
                                       reason=reason)
        except CampaignError as exc:
            raise ApiError(409, str(exc)) from None
        self.write({"campaign_id": cid, "action": action, **result})


class TemplatesApi(ApiBase):
    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": CAMPAIGN_READERS, "POST": CAMPAIGN_MAKERS}

    def get(self) -> None:
        with self.db.connect() as conn:
            self.write({"templates": store_list(conn, self.scope.branch)})

    async def post(self) -> None:
        data, actor = _template_fields(self.body(), creating=True), self.actor()

        def save() -> int:  # renders each variant on the sample recipient: off the IO loop
            with self.db.begin() as conn:
                return templates.create(conn, data["name"], data["variants"],
                                        default_language=data["default_language"],
                                        actor=actor, arms=data["arms"], branch=self.scope.branch)

        try:
            template_id = await off_loop(save)
        except ValueError as exc:  # the engine's TemplateError: which variant, line and why
            raise ApiError(400, str(exc)) from None
        self.set_status(201)
        self.write({"template_id": template_id})


class TemplateApi(ApiBase):
    """One template as the caller's branch sees it: another branch's is a 404, a shared one is read
    but not changed by a branch (403), one an agreed campaign uses is not changed or deleted (409)."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {
        "GET": CAMPAIGN_READERS, "PUT": CAMPAIGN_MAKERS, "DELETE": CAMPAIGN_MAKERS}

    async def get(self, template_id: str) -> None:
        def read() -> dict[str, Any]:  # measures its variants: off the IO loop
            with self.db.connect() as conn:
                return templates.get(conn, int(template_id), self.scope.branch)

        try:
            self.write(_jsonable(await off_loop(read)))
        except LookupError as exc:
            raise ApiError(404, str(exc.args[0] if exc.args else exc)) from None

    async def put(self, template_id: str) -> None:
        data, actor = _template_fields(self.body(), creating=False), self.actor()

        def save() -> None:  # renders each variant on the sample recipient: off the IO loop
            with self.db.begin() as conn:
                templates.update(conn, int(template_id), data["variants"], actor=actor,
                                 default_language=data["default_language"], arms=data["arms"],
                                 name=data["name"], branch=self.scope.branch)

        try:
            await off_loop(save)
        except (LookupError, PermissionError, templates.TemplateInUse) as exc:
            self._refuse(exc)
        except ValueError as exc:  # the engine's TemplateError: which variant, line and why
            raise ApiError(400, str(exc)) from None
        self.write({"template_id": int(template_id)})

    def delete(self, template_id: str) -> None:
        try:
            with self.db.begin() as conn:
                templates.delete(conn, int(template_id), actor=self.actor(), branch=self.scope.branch)
        except (LookupError, PermissionError, templates.TemplateInUse) as exc:
            self._refuse(exc)
        self.write({"template_id": int(template_id), "deleted": True})

    @staticmethod
    def _refuse(exc: Exception) -> None:
        status = 404 if isinstance(exc, LookupError) else 403 if isinstance(exc, PermissionError) else 409
        raise ApiError(status, str(exc.args[0] if exc.args else exc)) from None


def store_list(conn: Any, branch: str | None = None) -> list[dict[str, Any]]:
    return [_jsonable(t) for t in templates.list_all(conn, branch)]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


ACTIONS = ("submit", "approve", "reject", "launch", "pause", "resume", "cancel")
# path -> method -> (summary, takes a JSON body), for engage.web.openapi
OPERATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "/api/v1/templates": {"get": ("Templates with their languages and arms", False),
                          "post": ("Create a template (name, default_language, variants, arms)", True)},
    "/api/v1/templates/{id}": {"get": ("A template with its variants, each measured", False),
                               "put": ("Replace a template's variants (409 while a campaign awaiting approval, "
                                       "scheduled, running or paused uses it, naming the campaigns)", True),
                               "delete": ("Delete a template (409 while any campaign uses it, naming the campaign)",
                                          False)},
    "/api/v1/templates/preview": {"post": ("Render a body for a sample subscriber: text, encoding, parts, "
                                           "or the mistake's line and column", True)},
    "/api/v1/campaigns": {"get": ("The latest campaigns with their counts (null, with figures_error saying why, "
                                  "when counting their messages takes longer than its time budget)", False),
                          "post": ("Create a draft (name, segment_id, template_id, sender_id, options)", True)},
    "/api/v1/campaigns/{id}": {"get": ("A campaign: rules, runs, counts by status and arm, cost (null, with "
                                       "figures_error, past their time budget)", False),
                               "put": ("Change a draft: any of name, segment_id, template_id, sender_id and the "
                                       "options (null: back to the default); checked as when created, audited; "
                                       "409 once it is not a draft", True),
                               "delete": ("Delete a draft that never ran (audited); 409 once it is not a draft",
                                          False)},
    "/api/v1/campaigns/{id}/stats": {"get": ("Live figures: progress, messages over time, by provider "
                                             "and network", False)},
    "/api/v1/campaigns/{id}/estimate": {"get": ("Cost if launched now: reachable audience by cheapest healthy route "
                                                "x parts of its variant, per currency; unpriced counted", False)},
    **{f"/api/v1/campaigns/{{id}}/{action}": {"post": (f"{action.capitalize()} the campaign"
                                                       + (" (body: reason)" if action == "reject" else ""),
                                                       action == "reject")} for action in ACTIONS},
}

CAMPAIGN_API_ROUTES = [
    (r"/api/v1/campaigns", CampaignsApi),
    (r"/api/v1/campaigns/(\d+)", CampaignApi),
    (r"/api/v1/campaigns/(\d+)/stats", CampaignStatsApi),
    (r"/api/v1/campaigns/(\d+)/estimate", CampaignEstimateApi),
    (r"/api/v1/campaigns/(\d+)/(submit|approve|reject|launch|pause|resume|cancel)", CampaignActionApi),
    (r"/api/v1/templates", TemplatesApi),
    (r"/api/v1/templates/(\d+)", TemplateApi),
]
