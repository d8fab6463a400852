"""The segment builder: criteria and AND/OR groups picked from the registered criterion kinds (with
the operators and values each field takes), the count (and, asked for, a masked sample) refreshing
as the marketer edits. A saved segment opens in the same builder, to be changed, duplicated or
deleted. The page only assembles the JSON tree; counting, checking, saving, duplicating and deleting
are the /api/v1/segments endpoints, so the builder and an integration get the same answers and the
same refusals (a segment under an approved campaign, another branch's, one still in use). A role shown
numbers masked sees a saved definition's numbers masked too (segments.masked_numbers)."""

from __future__ import annotations

import tornado.web

from engage.engine.segments import store
from engage.engine.users.roles import AUDIENCE_READERS, AUDIENCE_WRITERS, NUMBER_READERS
from engage.web.sessions_web import PageHandler, requires


class SegmentsPage(PageHandler):
    @requires(*AUDIENCE_READERS)
    def get(self) -> None:
        with self.db.connect() as conn:
            segments = store.visible(conn, self.current_user.branch,
                                     masked=self.current_user.role not in NUMBER_READERS)
            self.render("segments.html", segments=segments,
                        deleted=self.get_query_argument("deleted", None))


class SegmentBuilderPage(PageHandler):
    @requires(*AUDIENCE_READERS)
    def get(self) -> None:
        self.render("segment_builder.html", can_save=self.current_user.role in AUDIENCE_WRITERS, segment=None,
                    can_duplicate=False, agreed=[])


class SegmentEditPage(PageHandler):
    """A saved segment in the builder; writers of its branch may change or delete it, any writer may
    duplicate it (a branch user's copy of a shared segment lands in their branch)."""

    @requires(*AUDIENCE_READERS)
    def get(self, segment_id: str) -> None:
        user = self.current_user
        with self.db.connect() as conn:
            segment = store.get(conn, int(segment_id), user.branch, masked=user.role not in NUMBER_READERS)
        if segment is None:
            raise tornado.web.HTTPError(404, reason=f"segment {segment_id} does not exist")
        writer = user.role in AUDIENCE_WRITERS
        self.render("segment_builder.html", can_save=writer and segment["editable"],
                    can_duplicate=writer, segment=store.as_json(segment),
                    agreed=[c for c in segment["used_by"] if c["status"] in store.AGREED])


SEGMENT_ROUTES = [
    (r"/segments", SegmentsPage),
    (r"/segments/new", SegmentBuilderPage),
    (r"/segments/(\d+)", SegmentEditPage),
]
