"""/api/v1 for audiences: count a segment while it is being written, save, read, change, duplicate and
delete it, list the criterion kinds. Every request needs an API token or a signed-in session; a token
or a user bound to a branch works only within that branch (shared segments it may read and duplicate,
not change). Refusals say why: 404 not there (or another branch's), 403 shared, 409 in use, 400 a
definition past its bounds (engine.segments.limits), 422 a count past its time budget. Counts run on
the web process's worker threads (web.off_loop), never on the IO loop."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import tornado.web

from engage import config
from engage.engine.consent import CHANNELS
from engage.engine.json_input import BodyError, parse_object
from engage.engine.segments import audience, masked_numbers, store
from engage.engine.segments.criteria import SegmentError, describe_kinds
from engage.engine.segments.errors import CountTooSlow
from engage.engine.users.roles import AUDIENCE_READERS, AUDIENCE_WRITERS
from engage.engine.users.scope import Scope
from engage.web.api_auth import ApiTokens
from engage.web.off_loop import off_loop
from engage.web.sessions_web import Denied, SessionApiHandler


class ApiBase(SessionApiHandler):
    """A bearer token, or a signed-in session of one of ``session_roles[method]`` (with XSRF)."""

    scope: Scope
    session_roles: ClassVar[dict[str, frozenset[str]]] = {}

    def prepare(self) -> None:
        access = self.access(self.session_roles.get(self.request.method or "", frozenset()))
        if isinstance(access, Denied):
            self.fail(access.status, access.message)
            return
        self.scope = access

    @property
    def masked(self) -> bool:
        """The caller is shown numbers masked: segment definitions shown and saved are held to the mask."""
        return not self.scope.show_numbers

    def body(self) -> dict[str, Any]:
        try:
            return parse_object(self.request.body)
        except BodyError as exc:
            raise ApiError(400, str(exc)) from None

    def fail(self, status: int, message: str, **extra: Any) -> None:
        self.set_status(status)
        self.finish({"error": message, **extra})

    def refuse(self, exc: SegmentError) -> None:
        """A bad definition is a 400 naming where; a valid one whose count is too slow for this base, a 422.
        Besides the error for integrations, the same said for a person ("Criterion 2 (Age): enter a
        number") and its parts, which the builder numbers as it lists its criteria."""
        self.fail(422 if isinstance(exc, CountTooSlow) else 400, str(exc), path=exc.path,
                  explanation=exc.in_words(), criterion=exc.criterion, hint=exc.hint)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, ApiError):
            self.set_status(exc.status)
            self.finish({"error": exc.message})
        else:
            self.finish(self.error_answer())


class ApiError(tornado.web.HTTPError):
    def __init__(self, status: int, message: str):
        super().__init__(status, reason=None)
        self.status = status
        self.message = message


def _definition(data: dict[str, Any]) -> Any:
    if "definition" not in data:
        raise ApiError(400, "definition: missing (a JSON tree of criteria)")
    return data["definition"]


class SegmentCountApi(ApiBase):
    session_roles: ClassVar[dict[str, frozenset[str]]] = {"POST": AUDIENCE_READERS}

    async def post(self) -> None:
        data = self.body()
        sample = data.get("sample", 0)  # a sample is a second pass: asked for, not given while typing
        if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample <= 100:
            raise ApiError(400, "sample: a whole number from 0 to 100")
        channel = data.get("channel", "sms")
        if not isinstance(channel, str) or channel not in CHANNELS:
            raise ApiError(400, f"channel: one of {', '.join(CHANNELS)}, not {str(channel)[:20]!r}")
        try:
            counted = await off_loop(self._count, _definition(data), channel, sample)
        except SegmentError as exc:
            self.refuse(exc)
            return
        self.write(counted)

    def _count(self, definition: Any, channel: Any, sample: int) -> dict[str, Any]:
        with self.db.connect() as conn:
            return audience.count(conn, definition, scope=self.scope, channel=channel, sample=sample)


class SegmentsApi(ApiBase):
    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": AUDIENCE_READERS, "POST": AUDIENCE_WRITERS}

    def get(self) -> None:
        with self.db.connect() as conn:
            self.write({"segments": store.visible(conn, self.scope.branch, masked=self.masked)})

    async def post(self) -> None:
        data = self.body()
        name = data.get("name")
        if not isinstance(name, str):
            raise ApiError(400, "name: a text is needed")
        try:
            segment_id, counted = await off_loop(self._save, name, _definition(data), self.actor())
        except SegmentError as exc:
            self.refuse(exc)
            return
        self.set_status(201)
        self.write({"segment_id": segment_id, **counted})

    def _save(self, name: str, definition: Any, actor: str) -> tuple[int, dict[str, Any]]:
        """Counted first, outside a transaction (where live counts answer), so that a segment whose count
        is over its budget is refused, not saved; then saved, with the checks of the store."""
        with self.db.connect() as conn:
            counted = audience.count(conn, definition, scope=self.scope, sample=0)
        with self.db.begin() as conn:
            segment_id = store.create(conn, name, definition, actor=actor, branch=self.scope.branch,
                                      masked=self.masked)
        return segment_id, counted


def _segment_errors(method: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """The store's refusals as API answers: 404 not found, 403 not this branch's to change, 409 in
    use, 400 a bad name or criterion (with its path), 422 a count over its time budget."""
    @functools.wraps(method)
    async def wrapper(self: ApiBase, *args: Any) -> None:
        try:
            await method(self, *args)
        except LookupError as exc:
            raise ApiError(404, str(exc.args[0] if exc.args else exc)) from None
        except PermissionError as exc:
            raise ApiError(403, str(exc)) from None
        except store.SegmentInUse as exc:
            raise ApiError(409, str(exc)) from None
        except SegmentError as exc:
            self.refuse(exc)

    return wrapper


class SegmentApi(ApiBase):
    """One saved segment: read (with the campaigns using it), change, delete."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {
        "GET": AUDIENCE_READERS, "PUT": AUDIENCE_WRITERS, "DELETE": AUDIENCE_WRITERS}

    @_segment_errors
    async def get(self, segment_id: str) -> None:
        with self.db.connect() as conn:
            segment = store.get(conn, int(segment_id), self.scope.branch, masked=self.masked)
        if segment is None:
            raise LookupError(f"segment {segment_id} does not exist")
        self.write(store.as_json(segment))

    @_segment_errors
    async def put(self, segment_id: str) -> None:
        data = self.body()
        if "name" not in data and "definition" not in data:
            raise ApiError(400, "body: give a name, a definition or both")
        segment, counted = await off_loop(self._change, int(segment_id), data, self.actor())
        self.write({**store.as_json(segment), **{k: counted[k] for k in ("matching", "opted_out", "reachable")}})

    def _change(self, segment_id: int, data: dict[str, Any], actor: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Changed and counted in one transaction: a change whose count is over its budget is rolled back."""
        with self.db.begin() as conn:
            segment = store.update(conn, segment_id, actor=actor, branch=self.scope.branch,
                                   name=data.get("name"), definition=data.get("definition"), masked=self.masked)
            return segment, audience.count(conn, segment["definition"], scope=self.scope)

    @_segment_errors
    async def delete(self, segment_id: str) -> None:
        with self.db.begin() as conn:
            store.remove(conn, int(segment_id), actor=self.actor(), branch=self.scope.branch)
        self.write({"segment_id": int(segment_id), "deleted": True})


class SegmentDuplicateApi(ApiBase):
    session_roles: ClassVar[dict[str, frozenset[str]]] = {"POST": AUDIENCE_WRITERS}

    @_segment_errors
    async def post(self, segment_id: str) -> None:
        with self.db.begin() as conn:
            copy_id = store.duplicate(conn, int(segment_id), actor=self.actor(), branch=self.scope.branch)
            segment = store.get(conn, copy_id, self.scope.branch, masked=self.masked)
        self.set_status(201)
        self.write({"segment_id": copy_id, **store.as_json(segment or {})})


class CriterionKindsApi(ApiBase):
    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": AUDIENCE_READERS}

    def get(self) -> None:
        kinds = describe_kinds()
        self.write({"kinds": masked_numbers.offered(kinds) if self.masked else kinds})


def api_tokens(spec: str | None = None) -> ApiTokens:
    return ApiTokens(config.load().api_tokens if spec is None else spec)


# path -> method -> (summary, takes a JSON body), for engage.web.openapi
OPERATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "/api/v1/segments": {"get": ("Segments visible to the caller", False),
                         "post": ("Save a segment (name, definition) and count it", True)},
    "/api/v1/segments/{id}": {"get": ("A segment with the campaigns that use it and whether the caller may "
                                       "change it", False),
                              "put": ("Change a segment's name and/or definition (audited; 409 while a campaign "
                                      "awaiting approval, scheduled, running or paused uses it)", True),
                              "delete": ("Delete a segment (409 while a campaign or another segment uses it)", False)},
    "/api/v1/segments/{id}/duplicate": {"post": ("Copy a segment as \"<name> (copy)\" into the caller's branch",
                                                 False)},
    "/api/v1/segments/count": {"post": ("Count a definition: matching, opted out, reachable, sample", True)},
    "/api/v1/segments/kinds": {"get": ("Criterion kinds with their parameters and each field's operators", False)},
}

AUDIENCE_ROUTES = [
    (r"/api/v1/segments/count", SegmentCountApi),
    (r"/api/v1/segments/kinds", CriterionKindsApi),
    (r"/api/v1/segments", SegmentsApi),
    (r"/api/v1/segments/(\d+)", SegmentApi),
    (r"/api/v1/segments/(\d+)/duplicate", SegmentDuplicateApi),
]
