"""Campaign kinds other than marketing, named once where campaigns, delivery and keywords all read
them: a keyword's confirmations are campaigns of kind "reply" (keywords/replies.py), which run for
good and are never completed."""

REPLY_KIND = "reply"
