"""The demo's people: an admin, a marketer and an approver who can sign in with this run's password,
also when the demo reuses a kept database from a run with another password."""

from engage.demo import DEMO_USERS, demo_users
from engage.engine.users import authenticate


def test_demo_users_sign_in_with_the_password_of_this_run(engine, monkeypatch, quick_hashes):
    monkeypatch.setenv("ENGAGE_DEMO_PASSWORD", "first-run-password")
    demo_users(engine)
    monkeypatch.setenv("ENGAGE_DEMO_PASSWORD", "second-run-password")
    assert demo_users(engine) == "second-run-password"
    with engine.connect() as conn:
        for email, role in DEMO_USERS.items():
            assert authenticate(conn, email, "second-run-password", ip="127.0.0.1").role == role
