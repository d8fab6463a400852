"""A campaign refused, naming the field or option at fault."""

from __future__ import annotations

import re

_NAMED = re.compile(r"^([a-z_]+)(?:\[\d+\])?:")  # a rule's message starts with its option: "cap: ", "arms[1]: "


class CampaignError(ValueError):
    """A campaign refused; ``field`` names the field or option at fault when there is one (a page
    shows the message next to that input, the API returns it beside the message)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        found = _NAMED.match(message)
        self.field = field or (found.group(1) if found else None)
