"""The segment builder: criteria and AND/OR groups picked from the registered criterion kinds (with
the operators and values each field takes), the count (and, asked for, a masked sample) refreshing
as the marketer edits. A saved segment opens in the same builder, to be changed, duplicated or
deleted. The page only assembles the JSON tree; counting, checking, saving, duplicating and deleting
are the /api/v1/segments endpoints, so the builder and an integration get the same answers and the
same refusals (a segment under an approved campaign, another branch's, one still in use). A role shown
numbers masked sees a saved definition's numbers masked too (segments.masked_numbers)."""

from __future__ import annotations

from typing import Any

import tornado.web
from sqlalchemy import Connection

from engage.engine.segments import store
from engage.engine.segments.summary import summarise
from engage.engine.users.roles import AUDIENCE_READERS, AUDIENCE_WRITERS, NUMBER_READERS
from engage.web.sessions_web import PageHandler, requires


class SegmentsPage(PageHandler):
    @requires(*AUDIENCE_READERS)
    def get(self) -> None:
        with self.db.connect() as conn:
            segments = store.visible(conn, self.current_user.branch,
                                     masked=self.current_user.role not in NUMBER_READERS)
        self.render("segments.html", segments=[{**s, "said": summarise(s["definition"])} for s in segments],
                    can_create=self.current_user.role in AUDIENCE_WRITERS,
                    deleted=self.get_query_argument("deleted", None))


def _includable(conn: Connection, branch: str | None, but: int | None = None) -> list[dict[str, Any]]:
    """The saved segments a criterion "In a saved segment" may name, for its select: those the user
    sees, but the one being edited (which would include itself)."""
    return [{"id": s["id"], "name": s["name"]} for s in store.visible(conn, branch) if s["id"] != but]


class SegmentBuilderPage(PageHandler):
    @requires(*AUDIENCE_READERS)
    def get(self) -> None:
        with self.db.connect() as conn:
            includable = _includable(conn, self.current_user.branch)
        self.render("segment_builder.html", can_save=self.current_user.role in AUDIENCE_WRITERS, segment=None,
                    can_duplicate=False, agreed=[], saved_segments=includable)


class SegmentEditPage(PageHandler):
    """A saved segment in the builder; writers of its branch may change or delete it, any writer may
    duplicate it (a branch user's copy of a shared segment lands in their branch)."""

    @requires(*AUDIENCE_READERS)
    def get(self, segment_id: str) -> None:
        user = self.current_user
        with self.db.connect() as conn:
            segment = store.get(conn, int(segment_id), user.branch, masked=user.role not in NUMBER_READERS)
            includable = _includable(conn, user.branch, but=int(segment_id))
        if segment is None:
            raise tornado.web.HTTPError(404, reason=f"segment {segment_id} does not exist")
        writer = user.role in AUDIENCE_WRITERS
        self.render("segment_builder.html", can_save=writer and segment["editable"],
                    can_duplicate=writer, segment=store.as_json(segment),
                    agreed=[c for c in segment["used_by"] if c["status"] in store.AGREED], saved_segments=includable)


SEGMENT_ROUTES = [
    (r"/segments", SegmentsPage),
    (r"/segments/new", SegmentBuilderPage),
    (r"/segments/(\d+)", SegmentEditPage),
]
