"""The segment builder: criteria and AND/OR groups picked from the registered criterion kinds (with
the operators and values each field takes), and the count refreshing as the marketer edits. The page
only assembles the JSON tree; counting, checking and saving are the /api/v1/segments endpoints, so
the builder and an integration get the same answers and the same error messages."""

from __future__ import annotations

from engage.engine.segments import store
from engage.engine.users.roles import AUDIENCE_READERS, AUDIENCE_WRITERS
from engage.web.sessions_web import PageHandler, requires


class SegmentsPage(PageHandler):
    @requires(*AUDIENCE_READERS)
    def get(self) -> None:
        with self.db.connect() as conn:
            self.render("segments.html", segments=store.visible(conn, self.current_user.branch))


class SegmentBuilderPage(PageHandler):
    @requires(*AUDIENCE_READERS)
    def get(self) -> None:
        self.render("segment_builder.html", can_save=self.current_user.role in AUDIENCE_WRITERS)


SEGMENT_ROUTES = [
    (r"/segments", SegmentsPage),
    (r"/segments/new", SegmentBuilderPage),
]
