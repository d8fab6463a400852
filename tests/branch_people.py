"""People of a role, in a branch or in none, each with an API token of their own: the users the
branch-scoping and maker-checker specs act as over real HTTP."""

from __future__ import annotations

from sqlalchemy import Engine

from engage.engine.users import api_tokens
from tests.fixtures.web import add_user


def token_for(engine: Engine, role: str, branch: str | None = None, *, email: str | None = None) -> str:
    """A new user of this role (and branch) and the secret of their new API token."""
    email = email or f"{role}{'-' + branch if branch else ''}@example.com"
    user_id = add_user(engine, email, role, branch=branch)
    with engine.begin() as conn:
        return api_tokens.issue(conn, user_id, "tests", created_by="test")
