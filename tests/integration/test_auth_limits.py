"""Sign-in limits and sign-out everywhere, on SQLite and PostgreSQL, with a clock the test moves."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, func, select
from tests.support import PASSWORD, api_token, csrf_from, login, make_user

from veo.server.audit.models import AuditEvent
from veo.server.auth import limits, sign_in_refusals
from veo.server.auth import login as attempts
from veo.server.auth.models import ApiToken, LoginFailures, WebSession
from veo.server.db.base import utcnow
from veo.server.db.engine import Database


def _actions(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def _try(
    db: Database, password: str, when: datetime, address: str, email: str = "tech@example.org"
) -> attempts.Outcome:
    return attempts.check_password_step(db, email, password, address=address, now=when)


def test_five_failures_lock_the_account_for_fifteen_minutes(database_url: str) -> None:
    db = Database(database_url)
    try:
        make_user(db)
        start = utcnow()
        for i in range(5):  # a different address each time: the lock is per account
            outcome = _try(db, "wrong password!", start + timedelta(seconds=i), f"10.0.0.{i}")
            assert outcome.refusal is attempts.Refusal.INVALID_CREDENTIALS
        locked = _try(db, PASSWORD, start + timedelta(minutes=2), "10.0.1.1")
        assert locked.user is None and locked.refusal is attempts.Refusal.ACCOUNT_LOCKED
        assert locked.status == 429 and "locked for 14 minutes" in locked.message()
        still = _try(db, PASSWORD, start + timedelta(minutes=14, seconds=59), "10.0.1.1")
        assert still.refusal is attempts.Refusal.ACCOUNT_LOCKED
        after = _try(db, PASSWORD, start + timedelta(minutes=15, seconds=5), "10.0.1.1")
        assert after.user is not None and after.refusal is None
        actions = _actions(db)
        # the second refusal from 10.0.1.1 in the same window is counted, not written on its own
        assert actions.count("auth.account_locked") == 1 and actions.count("auth.login_locked") == 1
        with db.session() as s:
            assert sign_in_refusals.write_due(s, db, everything=True) == 1
        assert _actions(db)[-1] == "auth.login_refusals"
    finally:
        db.dispose()


def test_an_address_guessing_many_accounts_is_slowed(database_url: str) -> None:
    db = Database(database_url)
    try:
        make_user(db)
        start = utcnow()
        clock = start
        waits = []
        for i in range(6):  # a new unknown e-mail each time: only the address's delay applies
            outcome = _try(db, "whatever pass", clock, "192.0.2.7", email=f"nobody{i}@example.org")
            assert outcome.refusal is attempts.Refusal.INVALID_CREDENTIALS
            with db.session() as s:
                until = limits.blocked_until(s, limits.address_key("192.0.2.7"), clock)
            waits.append(int((until - clock).total_seconds()) if until else 0)
            clock = until or clock
        assert waits == [0, 0, 0, 2, 4, 8]
        early = _try(db, PASSWORD, clock - timedelta(seconds=1), "192.0.2.7")
        assert early.refusal is attempts.Refusal.TOO_MANY_REQUESTS and early.retry_after == 1
        other_address = _try(db, PASSWORD, clock - timedelta(seconds=1), "192.0.2.8")
        assert other_address.user is not None
        on_time = _try(db, PASSWORD, clock, "192.0.2.7")
        assert on_time.user is not None
        assert "auth.login_throttled" in _actions(db)
        forgiven = _try(db, "wrong password!", clock + limits.WINDOW + timedelta(seconds=1), "192.0.2.7")
        assert forgiven.refusal is attempts.Refusal.INVALID_CREDENTIALS
        with db.session() as s:
            assert limits.blocked_until(s, limits.address_key("192.0.2.7"), clock + limits.WINDOW) is None
    finally:
        db.dispose()


async def test_the_login_page_says_the_account_is_locked(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    db: Database = app.state.db
    for i in range(5):
        _try(db, "wrong password!", utcnow(), f"10.9.0.{i}")
    page = await client.post("/login", data={"email": "tech@example.org", "password": PASSWORD})
    assert page.status_code == 429
    assert "locked for 15 minutes" in page.text
    api = await client.post("/api/v1/auth/token", json={"email": "tech@example.org", "password": PASSWORD})
    assert api.status_code == 429 and api.json()["code"] == "account_locked"


async def test_success_clears_the_account_failures(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    for _ in range(3):
        _try(app.state.db, "wrong password!", utcnow(), "10.8.0.1")
    await login(client, "tech@example.org")
    with app.state.db.session() as s:
        assert limits.blocked_until(s, limits.account_key(1), utcnow()) is None
        row = s.get(LoginFailures, "account:1")
        assert row is None


async def test_sign_out_everywhere_ends_every_session_and_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    make_user(app.state.db)
    make_user(app.state.db, "other@example.org")
    await login(client, "tech@example.org")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as second:
        await login(second, "tech@example.org")
        headers = await api_token(second, "tech@example.org")
        other = await api_token(second, "other@example.org")
        account = await client.get("/account")
        assert account.status_code == 200 and 'id="sign-out-everywhere"' in account.text
        done = await client.post("/account/sign-out-everywhere", data={"csrf_token": csrf_from(account.text)})
        assert done.status_code == 303 and done.headers["location"] == "/login"
        assert (await client.get("/tickets")).status_code == 303
        assert (await second.get("/tickets")).status_code == 303
        assert (await second.get("/api/v1/tickets", headers=headers)).status_code == 401
        assert (await second.get("/api/v1/tickets", headers=other)).status_code == 200, "others untouched"
    with app.state.db.session() as s:
        assert s.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == 1)) == 0
        assert s.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == 1)) == 0
    event = _actions(app.state.db)
    assert "auth.signed_out_everywhere" in event


async def test_sign_out_everywhere_by_api(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    headers = await api_token(client, "tech@example.org")
    response = await client.post("/api/v1/account/sign-out-everywhere", headers=headers)
    assert response.status_code == 200 and response.json() == {"ended": 1}
    assert (await client.get("/api/v1/tickets", headers=headers)).status_code == 401
    unauthenticated = await client.post("/api/v1/account/sign-out-everywhere")
    assert unauthenticated.status_code == 401


async def test_account_forms_refuse_a_post_without_the_csrf_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    make_user(app.state.db)
    csrf = await login(client, "tech@example.org")
    for path in ("/account/totp", "/account/sign-out-everywhere"):
        missing = await client.post(path, data={"code": "123456"})
        assert missing.status_code == 403 and missing.json()["code"] == "csrf_failed", path
        forged = await client.post(path, data={"code": "123456", "csrf_token": csrf + "x"})
        assert forged.status_code == 403, path
    assert (await client.get("/tickets")).status_code == 200, "still signed in"
    cross_site = await client.post(
        "/login/totp", data={"code": "123456"}, headers={"origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403 and cross_site.json()["code"] == "csrf_failed"


def test_stale_counters_are_dropped_and_found_through_the_index(database_url: str) -> None:
    """``forget_stale`` runs every 30 s (``housekeeping.py``): it drops what neither blocks nor counts any
    more, keeps the rest, and finds the stale rows through ``ix_login_failures_last_failure_at``
    (migration 0016) instead of reading every row of the table."""
    db = Database(database_url)
    try:
        now = utcnow()
        with db.session() as s:
            s.add_all(
                [
                    LoginFailures(key="email:quiet", failures=2, last_failure_at=now - limits.WINDOW),
                    LoginFailures(
                        key="address:served",
                        failures=9,
                        last_failure_at=now - timedelta(hours=1),
                        blocked_until=now - timedelta(seconds=1),
                    ),
                    LoginFailures(
                        key="account:7",
                        failures=5,
                        last_failure_at=now - limits.WINDOW - timedelta(minutes=1),
                        blocked_until=now + timedelta(minutes=1),
                    ),
                    LoginFailures(
                        key="address:recent", failures=1, last_failure_at=now - timedelta(minutes=1)
                    ),
                ]
            )
        cleanups: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            if statement.lstrip().upper().startswith("DELETE FROM LOGIN_FAILURES"):
                cleanups.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        with db.session() as s:
            limits.forget_stale(s, now)
        event.remove(db.engine, "before_cursor_execute", capture)
        with db.session() as s:
            assert set(s.scalars(select(LoginFailures.key))) == {"account:7", "address:recent"}

        [(statement, parameters)] = cleanups
        with db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            else:  # the planner prefers reading a tiny table whole: ask whether it *can* use an index
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).fetchall()
        plan = "\n".join(str(row) for row in rows)
        assert "ix_login_failures_last_failure_at" in plan, plan
    finally:
        db.dispose()
