"""What the one asking may see: every reader of subscribers (segments, campaigns, the search) is
asked within a scope, which the web and the CLI make from the user's branch and role."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """Who is asking: ``branch`` None sees every branch; ``show_numbers`` False masks numbers, and then
    no criterion may test more of a number than the mask shows (segments.masked_numbers). The
    system itself (a launch, an estimate) sees numbers."""

    branch: str | None = None
    show_numbers: bool = False


EVERYONE = Scope(show_numbers=True)
