"""/api/v1/subscribers: integrations (a CRM, a billing system) upsert subscribers in JSON batches
with the same checks as a file import."""

from __future__ import annotations

from typing import ClassVar

from engage import config
from engage.engine.subscribers import upsert_records
from engage.engine.users.roles import SUBSCRIBER_WRITERS
from engage.web.audience_api import ApiBase, ApiError

MAX_BATCH = 10_000  # subscribers per upsert request


class SubscribersApi(ApiBase):
    """Upsert a JSON batch with the import's validation: each bad record named by its index, the
    good ones stored. A branch token may only write subscribers of its own branch."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {"POST": SUBSCRIBER_WRITERS}

    def post(self) -> None:
        records = self.body().get("subscribers")
        if not isinstance(records, list) or not records:
            raise ApiError(400, "subscribers: a non-empty list of objects is needed")
        if len(records) > MAX_BATCH:
            raise ApiError(413, f"subscribers: at most {MAX_BATCH} per request")
        branch = self.scope.branch
        if branch is not None:
            for i, record in enumerate(records):
                if isinstance(record, dict) and record.get("branch") not in (None, "", branch):
                    raise ApiError(403, f"subscribers[{i}].branch: this token may only write branch {branch!r}")
            records = [{**r, "branch": branch} if isinstance(r, dict) else r for r in records]
        report = upsert_records(self.db, records, config.load().default_region)
        self.write(report.as_dict(details=True))


# path -> method -> (summary, takes a JSON body), for engage.web.openapi
OPERATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "/api/v1/subscribers": {"post": ("Upsert a batch of subscribers; each bad record reported by index", True)},
}

SUBSCRIBER_API_ROUTES = [(r"/api/v1/subscribers", SubscribersApi)]
