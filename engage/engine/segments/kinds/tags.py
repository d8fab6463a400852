"""Kind "has_tag": VAS subscriptions and other tags (the subscriber_tags table).

    {"kind": "has_tag", "tags": ["vas_music", "vas_news"], "match": "any"}
        match: any (at least one of the tags; default) | all (every one of them)

Each tag is looked up through the (tag, subscriber_id) index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, select

from engage.engine.segments.criteria import CompileContext, Param, criterion
from engage.engine.segments.kinds._values import get_choice, get_str_list
from engage.engine.store.schema import Subscriber, SubscriberTag


def _tagged(*tags: str) -> ColumnElement[bool]:
    return Subscriber.id.in_(select(SubscriberTag.subscriber_id).where(SubscriberTag.tag.in_(tags)).correlate(None))


@criterion("has_tag", label="Has tags (VAS subscriptions)", params=(
    Param("match", "string", "any (default) or all", required=False, default="any", label="how many",
          options=(("any", "any of"), ("all", "all of"))),
    Param("tags", "list[string]", "tags (VAS subscriptions)", label="tags",
          ask="enter one or more tags, separated by commas"),
))
def has_tag(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """The subscriber has any (or all) of a list of tags, e.g. VAS subscriptions."""
    tags = get_str_list(node, "tags", path, max_length=64)
    if get_choice(node, "match", path, ("any", "all"), "any") == "any":
        return _tagged(*tags)
    return and_(*(_tagged(tag) for tag in tags))
