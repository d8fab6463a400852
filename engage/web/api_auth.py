"""Who an /api/v1 request comes from. Integrations (a CRM pushing subscribers, a BI tool asking
for counts) present a bearer token from ENGAGE_API_TOKENS, optionally bound to a branch
("token@north"): such a client sees, counts and writes only within that branch. Tokens are
compared in constant time and never logged."""

from __future__ import annotations

import hmac

from engage.engine.segments.audience import Scope


class ApiTokens:
    def __init__(self, spec: str):
        self._tokens: list[tuple[str, str | None]] = []
        for item in (part.strip() for part in spec.split(",")):
            if item:
                token, _, branch = item.partition("@")
                self._tokens.append((token, branch or None))

    def scope(self, authorization: str | None) -> Scope | None:
        """The scope of a valid ``Authorization: Bearer ...`` header; None for anything else."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = authorization[len("Bearer "):].strip().encode()
        found: Scope | None = None
        for token, branch in self._tokens:  # no early exit: the time taken does not tell which matched
            if hmac.compare_digest(presented, token.encode()):
                found = Scope(branch=branch, show_numbers=False)
        return found
