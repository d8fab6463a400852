"""Users' API tokens, on both databases: issued (the secret shown once, only its SHA-256 kept),
resolved, revoked, expired; and over real HTTP a token acts with its user's role and branch, like a
session would, while the deployment tokens of ENGAGE_API_TOKENS work as before."""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engage.cli import main
from engage.engine.segments import store as segments
from engage.engine.store.schema import ApiToken as TokenRow
from engage.engine.store.schema import AuditEntry, Campaign
from engage.engine.templates import store as templates
from engage.engine.users import UserError, api_tokens, disable, enable
from tests.audience_people import add_people
from tests.fixtures.web import Browser, add_user, serving
from tests.test_audience_api import _call

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TASHKENT = {"field": "city", "op": "eq", "value": "Tashkent"}
pytestmark = pytest.mark.usefixtures("quick_hashes")


def _issue(engine, email="ann@example.com", role="marketer", *, branch=None, now=None, **kwargs) -> str:
    user_id = add_user(engine, email, role, branch=branch)
    with engine.begin() as conn:
        return api_tokens.issue(conn, user_id, kwargs.pop("name", "CRM sync"), created_by="root@example.com",
                                now=now, **kwargs)


def _resolve(engine, secret, now=NOW):
    with engine.begin() as conn:
        return api_tokens.resolve(conn, secret, now=now)


# the engine: issue, resolve, revoke, expire


def test_a_token_is_shown_once_and_only_its_hash_and_prefix_are_kept(engine):
    secret = _issue(engine, now=NOW)
    assert secret.startswith("eng_") and len(secret) >= 40
    with engine.connect() as conn:
        row = conn.execute(select(TokenRow)).one()
        audited = json.dumps([list(r) for r in conn.execute(select(AuditEntry.actor, AuditEntry.action,
                                                                   AuditEntry.details))], default=str)
    assert row.token_hash == api_tokens.secret_hash(secret) and row.prefix == secret[:12]
    assert secret not in json.dumps([str(v) for v in row], default=str)
    assert secret not in audited and row.token_hash not in audited
    assert '"root@example.com", "api_token.create"' in audited


def test_a_token_resolves_to_its_user_and_records_its_use_at_most_once_a_minute(engine):
    secret = _issue(engine, role="analyst", branch="north", now=NOW)
    user = _resolve(engine, secret)
    assert (user.email, user.role, user.branch) == ("ann@example.com", "analyst", "north")
    _resolve(engine, secret, NOW + timedelta(seconds=30))
    with engine.connect() as conn:
        assert api_tokens.list_for(conn, user.id)[0].last_used_at == NOW
    _resolve(engine, secret, NOW + timedelta(minutes=2))
    with engine.connect() as conn:
        assert api_tokens.list_for(conn, user.id)[0].last_used_at == NOW + timedelta(minutes=2)


def test_a_revoked_token_no_longer_resolves(engine):
    secret = _issue(engine)
    with engine.begin() as conn:
        token = api_tokens.find(conn, secret)
        revoked = api_tokens.revoke(conn, token.id, actor="root@example.com")
    assert revoked.state() == "revoked" and _resolve(engine, secret) is None
    with engine.begin() as conn, pytest.raises(UserError, match="revoked already"):
        api_tokens.revoke(conn, token.id, actor="root@example.com")
    with engine.connect() as conn:
        actions = conn.execute(select(AuditEntry.actor, AuditEntry.action).where(
            AuditEntry.object_type == "api_token").order_by(AuditEntry.id)).all()
    assert [tuple(a) for a in actions] == [("root@example.com", "api_token.create"),
                                           ("root@example.com", "api_token.revoke")]


def test_a_token_expires(engine):
    secret = _issue(engine, now=NOW, expires_days=30)
    assert _resolve(engine, secret, NOW + timedelta(days=29)) is not None
    assert _resolve(engine, secret, NOW + timedelta(days=30)) is None
    with engine.connect() as conn:
        assert api_tokens.find(conn, secret).state(NOW + timedelta(days=31)) == "expired"


def test_a_disabled_users_token_is_refused_until_they_are_enabled(engine):
    secret = _issue(engine)
    with engine.begin() as conn:
        disable(conn, "ann@example.com", actor="root@example.com")
    assert _resolve(engine, secret) is None
    with engine.begin() as conn:
        enable(conn, "ann@example.com", actor="root@example.com")
    assert _resolve(engine, secret).email == "ann@example.com"


@pytest.mark.parametrize(("name", "days", "field"), [("", None, "name"), ("x" * 101, None, "name"),
                                                     ("ok", 0, "expires_days"), ("ok", 4000, "expires_days")])
def test_a_bad_token_request_names_the_field(engine, name, days, field):
    with pytest.raises(UserError) as err:
        _issue(engine, name=name, expires_days=days)
    assert err.value.field == field


def test_unknown_and_absurd_secrets_resolve_to_nobody(engine):
    _issue(engine)
    assert _resolve(engine, "eng_" + "x" * 43) is None
    assert _resolve(engine, "") is None and _resolve(engine, "x" * 10_000) is None


# over HTTP: a token acts as its user


@pytest.fixture
def site_with_data(engine):
    add_people(engine)  # ids from the sequence, so that an upsert can add more
    with engine.begin() as conn:
        segments.create(conn, "everyone", {"kind": "all"}, actor="t")
        templates.create(conn, "hi", {"en": "Hi {{ first_name }}"}, default_language="en", actor="t")
    with serving(engine, tokens="hq-token") as base:
        yield engine, base


def _draft(base, token) -> tuple[int, dict]:
    return _call(base, "/api/v1/campaigns", {"name": "c", "segment_id": 1, "template_id": 1, "sender_id": "Shop"},
                 token=token)


def test_a_marketers_token_makes_a_draft_audited_under_their_email_but_cannot_approve(site_with_data):
    engine, base = site_with_data
    token = _issue(engine, "mara@example.com", "marketer")
    status, body = _draft(base, token)
    assert status == 201
    campaign_id = body["campaign_id"]
    status, body = _call(base, f"/api/v1/campaigns/{campaign_id}/approve", {}, token=token)
    assert status == 403 and "marketer role may not approve" in body["error"]
    with engine.connect() as conn:
        assert conn.execute(select(Campaign.created_by).where(Campaign.id == campaign_id)).scalar_one() \
            == "mara@example.com"
        actors = conn.execute(select(AuditEntry.actor).where(AuditEntry.object_type == "campaign")).scalars().all()
    assert set(actors) == {"mara@example.com"}


def test_a_marketers_token_submits_for_approval_like_their_session_would(site_with_data):
    engine, base = site_with_data
    token = _issue(engine, "mara@example.com", "marketer")
    campaign_id = _draft(base, token)[1]["campaign_id"]
    assert _call(base, f"/api/v1/campaigns/{campaign_id}/submit", {}, token=token) == (
        200, {"campaign_id": campaign_id, "action": "submit", "status": "awaiting_approval"})


def test_an_analysts_token_reads_but_cannot_make_or_launch(site_with_data):
    engine, base = site_with_data
    campaign_id = _draft(base, "hq-token")[1]["campaign_id"]
    token = _issue(engine, "ana@example.com", "analyst")
    assert _call(base, f"/api/v1/campaigns/{campaign_id}/stats", token=token)[0] == 200
    status, body = _call(base, f"/api/v1/campaigns/{campaign_id}/launch", {}, token=token)
    assert status == 403 and "analyst" in body["error"]
    assert _draft(base, token)[0] == 403


def test_a_partners_token_feeds_subscribers_and_reads_but_never_moves_campaigns(site_with_data):
    engine, base = site_with_data
    campaign_id = _draft(base, "hq-token")[1]["campaign_id"]
    token = _issue(engine, "crm@example.com", "partner")
    status, body = _call(base, "/api/v1/subscribers", {"subscribers": [{"msisdn": "+998901234567"}]}, token=token)
    assert status == 200, body
    assert _call(base, "/api/v1/segments/count", {"definition": {"kind": "all"}}, token=token)[1]["matching"] == 6
    assert _call(base, f"/api/v1/campaigns/{campaign_id}", token=token)[0] == 200
    for action in ("submit", "approve", "launch", "cancel"):
        assert _call(base, f"/api/v1/campaigns/{campaign_id}/{action}", {}, token=token)[0] == 403
    assert _call(base, "/api/v1/segments", {"name": "x", "definition": TASHKENT}, token=token)[0] == 403
    page = Browser(base).request("GET", "/campaigns", headers={"Authorization": f"Bearer {token}"})
    assert page.status == 302 and page.headers["Location"].startswith("/login")


def test_a_branch_users_token_sees_and_counts_only_their_branch(engine):
    add_people(engine)
    token = _issue(engine, "north@example.com", "analyst", branch="north")
    with serving(engine, tokens="hq-token") as base:
        assert _call(base, "/api/v1/segments/count", {"definition": TASHKENT}, token=token)[1]["matching"] == 2
        assert _call(base, "/api/v1/segments/count", {"definition": TASHKENT})[1]["matching"] == 4


def test_revoked_disabled_and_unknown_tokens_are_a_401(engine, caplog):
    caplog.set_level(logging.DEBUG)
    token = _issue(engine, "crm@example.com", "partner")
    revoked = _issue(engine, "old@example.com", "partner")
    with engine.begin() as conn:
        api_tokens.revoke(conn, api_tokens.find(conn, revoked).id, actor="root@example.com")
    body = {"definition": TASHKENT}
    with serving(engine) as base:
        assert _call(base, "/api/v1/segments/count", body, token=token)[0] == 200
        assert _call(base, "/api/v1/segments/count", body, token=revoked)[0] == 401
        assert _call(base, "/api/v1/segments/count", body, token=token[:-1] + "x")[0] == 401
        with engine.begin() as conn:
            disable(conn, "crm@example.com", actor="root@example.com")
        status, reply = _call(base, "/api/v1/segments/count", body, token=token)
    assert status == 401 and "not valid" in reply["error"]
    assert token not in caplog.text and revoked not in caplog.text


def test_a_deployment_token_still_acts_as_api_with_every_right(site_with_data):
    engine, base = site_with_data
    status, body = _draft(base, "hq-token")
    assert status == 201
    request = urllib.request.Request(f"{base}/api/v1/campaigns/{body['campaign_id']}/cancel", data=b"{}",
                                     method="POST", headers={"Authorization": "Bearer hq-token"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    with engine.connect() as conn:
        actors = set(conn.execute(select(AuditEntry.actor).where(AuditEntry.object_type == "campaign")).scalars())
    assert actors == {"api"}


# `engage user token ...`


@pytest.fixture
def cli(engine, monkeypatch, tmp_path):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / ".engage"))
    return engine


def test_the_cli_creates_lists_and_revokes_a_token_printing_the_secret_once(cli, capsys):
    add_user(cli, "crm@example.com", "partner")
    assert main(["user", "token", "create", "crm@example.com", "--name", "CRM sync", "--expires-days", "30"]) == 0
    out = capsys.readouterr()
    created = json.loads(out.out)
    assert created["secret"].startswith("eng_") and created["user"] == "crm@example.com"
    assert created["state"] == "active" and created["expires_at"] and "shown only now" in out.err
    assert _resolve(cli, created["secret"], datetime.now(UTC)).email == "crm@example.com"
    assert main(["user", "token", "list", "crm@example.com"]) == 0
    listed = capsys.readouterr().out
    assert created["secret"] not in listed and json.loads(listed)["prefix"] == created["secret"][:12]
    assert main(["user", "token", "revoke", str(created["id"])]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "revoked"
    assert _resolve(cli, created["secret"], datetime.now(UTC)) is None
    with cli.connect() as conn:
        actors = set(conn.execute(select(AuditEntry.actor).where(AuditEntry.object_type == "api_token")).scalars())
    assert len(actors) == 1 and actors.pop().startswith("cli:")


def test_the_cli_names_what_is_wrong(cli):
    with pytest.raises(SystemExit, match="error: user: no user with the email 'nobody@example.com'"):
        main(["user", "token", "create", "nobody@example.com", "--name", "x"])
    with pytest.raises(SystemExit, match="error: token: no API token with the id 99"):
        main(["user", "token", "revoke", "99"])
    with pytest.raises(SystemExit, match="error: user: no user"):
        main(["user", "token", "list", "nobody@example.com"])
