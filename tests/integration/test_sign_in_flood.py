"""Refused sign-ins cannot flood the audit log (issue 12 re-test A), on SQLite and PostgreSQL.

A sign-in refused by a limit checks no password, and anyone can send them: 100 made-up e-mails
from one address wrote 100 rows, 400 tries at a locked account 402. Now the first refusal of
each kind per address group and window has its own row; the rest go into one summary per window,
with the e-mails tried (limited), written by auth's housekeeping task (every 30 s) and at shutdown.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select
from tests.support import BASE_URL, PASSWORD, make_user

from veo.config import Settings
from veo.server.audit.models import AuditEvent
from veo.server.auth import housekeeping, limits, passwords, sign_in_refusals
from veo.server.auth import login as attempts
from veo.server.auth.models import LoginFailures
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.lang import set_language
from veo.server.sessions.refusal_log import RefusalLog
from veo.server.web.wording import action, event_details

EMAIL = "tech@example.org"


def _rows(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    with db.session() as s:
        return [
            (e.action, e.address or "", dict(e.details or {}))
            for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        ]


@pytest.fixture(autouse=True)
def _no_dummy_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown and locked e-mails burn one argon2 each; hundreds of them are not what is tested."""
    monkeypatch.setattr(passwords, "dummy_verify", lambda password: None)


def test_a_locked_account_and_made_up_emails_give_one_row_each_and_one_summary(database_url: str) -> None:
    db = Database(database_url)
    try:
        make_user(db)
        start = utcnow()
        for i in range(5):  # the lock: five real wrong passwords, five rows as before
            attempts.check_password_step(db, EMAIL, "wrong password!", address=f"10.0.0.{i}", now=start)
        for _ in range(100):
            locked = attempts.check_password_step(db, EMAIL, PASSWORD, address="198.51.100.9", now=start)
            assert locked.refusal is attempts.Refusal.ACCOUNT_LOCKED
        answers = Counter(
            attempts.check_password_step(
                db, f"{i}{'x' * 300}@example.org", "whatever pass", address="198.51.100.20", now=start
            ).refusal
            for i in range(100)
        )
        throttled = answers[attempts.Refusal.TOO_MANY_REQUESTS]
        assert throttled >= 90 and answers[attempts.Refusal.INVALID_CREDENTIALS] == 100 - throttled

        actions = Counter(a for a, _, _ in _rows(db))
        assert actions["auth.login_failed"] == 5 + 100 - throttled  # every checked password, as before
        assert actions["auth.account_locked"] == 1
        assert actions["auth.login_locked"] == 1, actions  # was 100
        assert actions["auth.login_throttled"] == 1, actions  # was one per refusal

        with db.session() as s:
            assert sign_in_refusals.write_due(s, db, everything=True) == 2
        summaries = {addr: d for a, addr, d in _rows(db) if a == "auth.login_refusals"}
        locked_summary = summaries["198.51.100.9"]
        assert locked_summary["count"] == 99 and locked_summary["reasons"] == {"locked": 99}
        assert locked_summary["emails"] == {EMAIL: 99} and "other_emails" not in locked_summary
        assert locked_summary["first_at"] <= locked_summary["last_at"]
        flood = summaries["198.51.100.20"]
        assert flood["count"] == throttled - 1 and flood["reasons"] == {"throttled": throttled - 1}
        emails = flood["emails"]
        assert len(emails) == 10 and all(len(e) == 100 for e in emails)  # limited and cut
        assert sum(emails.values()) + flood["other_emails"] == throttled - 1
        assert len(_rows(db)) == 1 + 5 + 1 + 1 + 1 + (100 - throttled) + 2  # user.created first
    finally:
        db.dispose()


def test_a_summary_reads_as_sentences_in_both_languages() -> None:
    details = {
        "count": 12,
        "reasons": {"locked": 2, "throttled": 10},
        "first_at": "2026-01-01T00:00:00+00:00",
        "last_at": "2026-01-01T00:04:00+00:00",
        "emails": {"a@example.org": 11},
        "other_emails": 1,
    }
    try:
        set_language("en")
        english = event_details("auth.login_refusals", details)
        title = action("auth.login_refusals")
        set_language("es")
        spanish = event_details("auth.login_refusals", details)
        titulo = action("auth.login_refusals")
    finally:
        set_language("en")
    assert "12 more refused attempts" in english and "the account was locked (2)" in english
    assert "a@example.org (11)" in english and "1 more attempt with other e-mails" in english
    assert title == "Refused sign-ins, counted together" and titulo != title
    assert spanish != english and "a@example.org (11)" in spanish
    for text in (english, spanish):
        assert "throttled" not in text and "locked)" not in text and "2026-01-01T" not in text


async def test_the_housekeeping_pass_and_shutdown_write_the_summaries(settings: Settings) -> None:
    from veo.server.app import create_app

    app = create_app(settings)
    db: Database = app.state.db
    clock = [0.0]
    sign_in_refusals._logs[db] = RefusalLog(
        action=sign_in_refusals.ACTION,
        actor="anonymous",
        subject_key="emails",
        window_seconds=300,
        clock=lambda: clock[0],
        wallclock=lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=clock[0]),
    )
    async with app.router.lifespan_context(app):
        make_user(db)
        transport = httpx.ASGITransport(app=app, client=("192.0.2.50", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:

            async def guesses(n: int) -> None:
                for _ in range(n):
                    answer = await c.post(
                        "/api/v1/auth/token", json={"email": EMAIL, "password": "nope nope!"}
                    )
                    assert answer.status_code in (401, 429)

            await guesses(8)  # 3 checked, then throttled: one row, then counted
            assert [a for a, _, _ in _rows(db)].count("auth.login_throttled") == 1
            clock[0] = 301  # the window closes; the housekeeping's periodic pass writes its summary
            await housekeeping.tidy(db)
            (first,) = [d for a, _, d in _rows(db) if a == "auth.login_refusals"]
            assert first["count"] >= 1 and set(first["reasons"]) == {"throttled"}
            assert first["emails"] == {EMAIL: first["count"]}
            await guesses(3)  # a new window: one immediate row again, the rest counted
    # the shutdown (lifespan exit) wrote the window still open
    rows = _rows(db)
    summaries = [d for a, _, d in rows if a == "auth.login_refusals"]
    assert len(summaries) == 2 and summaries[1]["count"] == 2
    assert [a for a, _, _ in rows].count("auth.login_throttled") == 2
    db.dispose()


async def test_the_housekeeping_task_runs_every_interval_off_the_sign_in_path(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No sign-in happens here: the server's own task drops the stale counter and writes the
    summary whose window closed."""
    from veo.server.app import create_app

    monkeypatch.setattr(housekeeping, "INTERVAL_SECONDS", 0.05)
    tidy, passed = housekeeping.tidy, anyio.Event()

    async def one_pass(database: Database, *, everything: bool = False) -> None:
        await tidy(database, everything=everything)
        passed.set()

    monkeypatch.setattr(housekeeping, "tidy", one_pass)
    app = create_app(settings)
    db: Database = app.state.db
    clock = [0.0]
    log = sign_in_refusals._logs[db] = RefusalLog(
        action=sign_in_refusals.ACTION, actor="anonymous", subject_key="emails", clock=lambda: clock[0]
    )
    async with app.router.lifespan_context(app):  # nothing below awaits before the first pass
        stale = utcnow() - limits.WINDOW - timedelta(minutes=1)
        with db.session() as s:
            s.add(LoginFailures(key="email:stale", failures=2, last_failure_at=stale))
        assert log.note("192.0.2.7", "throttled", EMAIL)  # written at once by the sign-in
        assert not log.note("192.0.2.7", "throttled", EMAIL)  # counted for the summary
        clock[0] = 301
        with anyio.fail_after(10):
            await passed.wait()
        assert [a for a, _, _ in _rows(db)] == ["auth.login_refusals"]
        with db.session() as s:
            assert s.get(LoginFailures, "email:stale") is None
    db.dispose()
