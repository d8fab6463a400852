"""Who an /api/v1 request comes from, when it brings an ``Authorization: Bearer ...`` header.

Two kinds of token:
- a user's token (engine.users.api_tokens; issued with `engage user token create` or on the users
  page): it acts as that user, with their role and branch, and the audit log names them. This is
  the way to give an integration (a CRM, a BI tool, a partner) exactly the rights it needs;
- a deployment-level token from ENGAGE_API_TOKENS ("token[@branch],..."), for the operator's own
  systems: it acts as "api" with every right, optionally bound to a branch ("token@north"), within
  which such a client sees, counts and writes. It works exactly as before users' tokens existed.

Deployment tokens are compared in constant time, users' tokens are looked up by their SHA-256;
neither is ever logged."""

from __future__ import annotations

import hmac

from engage.engine.users.scope import Scope

SCHEME = "Bearer "


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for anything else."""
    if not authorization or not authorization.startswith(SCHEME):
        return None
    return authorization[len(SCHEME):].strip() or None


class ApiTokens:
    """The deployment-level tokens of ENGAGE_API_TOKENS."""

    def __init__(self, spec: str):
        self._tokens: list[tuple[str, str | None]] = []
        for item in (part.strip() for part in spec.split(",")):
            if item:
                token, _, branch = item.partition("@")
                self._tokens.append((token, branch or None))

    def scope(self, authorization: str | None) -> Scope | None:
        """The scope of a valid ``Authorization: Bearer ...`` header; None for anything else."""
        presented = bearer(authorization)
        if presented is None:
            return None
        found: Scope | None = None
        for token, branch in self._tokens:  # no early exit: the time taken does not tell which matched
            if hmac.compare_digest(presented.encode(), token.encode()):
                found = Scope(branch=branch, show_numbers=False)
        return found
