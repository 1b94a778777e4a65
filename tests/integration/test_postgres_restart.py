"""PostgreSQL restarted under a running veo: clean 503s while it is down, all well after.

The database is an instance of the test's own (``pg_instance.py``), stopped in fast mode and
started again while one app keeps running: no restart of veo in between. While it is down,
``/readyz`` names the database, the API answers JSON 503 ``database_unavailable``, a page a
plain 503 page, the console socket closes with 1013, an agent's join or rejoin is told to try
again (not fatal) and closed with 1013 too; a ticket posted meanwhile leaves no row.
Afterwards the same requests succeed on the same app and ``veo audit verify`` passes.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from starlette.exceptions import StarletteDeprecationWarning
from starlette.websockets import WebSocketDisconnect
from tests.integration.pg_instance import PostgresInstance, postgres_instance
from tests.support import BASE_URL, Account, app_settings, make_user, ticket_body

from veo.config import Settings
from veo.server.app import create_app
from veo.server.audit import cli as audit_cli
from veo.server.audit.models import AuditEvent
from veo.server.auth import service as auth_service
from veo.server.auth.cookies import cookie_name
from veo.server.db.engine import Database
from veo.server.db.unavailable import is_unavailable
from veo.server.handlers import CLOSE_TRY_AGAIN_LATER, RETRY_AFTER_SECONDS
from veo.server.notify.models import OutboxMessage
from veo.server.tickets import service as tickets
from veo.server.tickets.models import Ticket

with warnings.catch_warnings():
    # Starlette 1.x asks for the "httpx2" fork; plain httpx works here (as in test_signaling).
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]


@pytest.fixture
def postgres() -> Iterator[PostgresInstance]:
    with postgres_instance() as instance:
        yield instance


def _tickets_titled(url: str, title: str) -> int:
    db = Database(url)
    try:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(Ticket).where(Ticket.title == title)) or 0
    finally:
        db.dispose()


def _rows(url: str, model: type[OutboxMessage] | type[AuditEvent], *where: Any) -> int:
    db = Database(url)
    try:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(model).where(*where)) or 0
    finally:
        db.dispose()


def _technician(app: FastAPI) -> tuple[Account, str]:
    """A technician of the app's database and an API token of theirs, made while it is up."""
    account = make_user(app.state.db, "tech@example.org")
    with app.state.db.session() as s:
        token, _expires = auth_service.issue_api_token(s, s.merge(account.user))
    return account, token


def _audit_verify(settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    argv = ["--database-url", settings.effective_database_url, "--data-dir", str(settings.data_dir), "verify"]
    with contextlib.redirect_stdout(out):
        code = audit_cli.main(argv)
    return code, out.getvalue()


def test_veo_answers_503_while_postgresql_is_down_and_recovers_without_a_restart(
    postgres: PostgresInstance, tmp_path: Path
) -> None:
    settings = app_settings(postgres.url, tmp_path)
    app = create_app(settings)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        account, token = _technician(app)
        with app.state.db.session() as s:
            cookie, _web = auth_service.start_web_session(s, s.merge(account.user))
        bearer = {"Authorization": f"Bearer {token}"}
        client.cookies.set(cookie_name(settings), cookie)
        first = client.post("/api/v1/tickets", json=ticket_body(title="Before the restart"), headers=bearer)
        assert first.status_code == 201, first.text
        started = client.post(f"/api/v1/tickets/{first.json()['id']}/sessions", json={}, headers=bearer)
        assert started.status_code == 201, started.text
        code = started.json()["code"]

        # A transaction that wrote a ticket (with its audit entry and outbox rows) when the
        # database stops: its commit fails, and none of it may be there afterwards.
        with pytest.raises(OperationalError) as cut, app.state.db.session() as s:
            tickets.create_ticket(s, ticket_body(title="Half written"), creator=s.merge(account.user))
            postgres.stop()
        assert is_unavailable(cut.value)

        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["failed"] == ["database"]
        listing = client.get("/api/v1/tickets", headers=bearer)
        assert listing.status_code == 503
        assert listing.json()["code"] == "database_unavailable" and listing.json()["message"]
        assert listing.headers["retry-after"].isdigit()
        lost = client.post("/api/v1/tickets", json=ticket_body(title="While it was down"), headers=bearer)
        assert lost.status_code == 503 and lost.json()["code"] == "database_unavailable"
        page = client.get("/tickets", headers={"Accept": "text/html"})
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "database cannot be reached" in page.text and "Traceback" not in page.text
        console = f"/ws/console?session={'0' * 36}"
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(console) as socket:
            socket.receive_text()
        assert closed.value.code == CLOSE_TRY_AGAIN_LATER
        # An agent joining with its code, or rejoining after a blip, is told to try again (not
        # fatal: the agent's reconnect loop retries a rejoin; a join shows "try again") and
        # its socket closes with 1013, not the fatal server_error and 1008 that ended the session.
        for first_message in (
            {"type": "join", "code": code, "platform": "linux", "language": "en"},
            {"type": "rejoin", "session_id": started.json()["id"], "token": "t" * 43},
        ):
            with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws/agent") as agent:
                agent.send_text(json.dumps({"v": 1, **first_message}))
                answer = agent.receive_json()
                agent.receive_text()
            assert answer["type"] == "error" and answer["code"] == "database_unavailable", answer
            assert answer["fatal"] is False and answer["retry_after"] == RETRY_AFTER_SECONDS
            assert closed.value.code == CLOSE_TRY_AGAIN_LATER

        postgres.start()

        # the code was not used up by the refused join, nor counted as a wrong one
        with client.websocket_connect("/ws/agent") as agent:
            agent.send_text(json.dumps({"v": 1, "type": "join", "code": code, "platform": "linux"}))
            assert agent.receive_json()["type"] == "joined"

        assert client.get("/readyz").json() == {"status": "ready"}
        again = client.get("/api/v1/tickets", headers=bearer)
        assert again.status_code == 200, again.text
        assert [t["title"] for t in again.json()["items"]] == ["Before the restart"]
        after = client.post("/api/v1/tickets", json=ticket_body(title="After the restart"), headers=bearer)
        assert after.status_code == 201, after.text
        assert client.get("/tickets", headers={"Accept": "text/html"}).status_code == 200

    assert _tickets_titled(postgres.url, "While it was down") == 0
    assert _tickets_titled(postgres.url, "Half written") == 0
    assert _rows(postgres.url, OutboxMessage) == 2  # the e-mail to the requester of each ticket there
    assert _rows(postgres.url, AuditEvent, AuditEvent.action == "ticket.created") == 2
    code, report = _audit_verify(settings)
    assert code == 0, report
    assert "chain intact" in report


def test_the_database_unavailable_answer_is_in_the_readers_language(
    postgres: PostgresInstance, tmp_path: Path
) -> None:
    app = create_app(app_settings(postgres.url, tmp_path))
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        _account, token = _technician(app)
        postgres.stop()
        english = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})
        spanish = client.get(
            "/api/v1/tickets", headers={"Authorization": f"Bearer {token}", "Accept-Language": "es"}
        )
        postgres.start()
    assert english.status_code == spanish.status_code == 503
    assert english.json()["message"].startswith("The database cannot be reached")
    assert spanish.json()["message"].startswith("No se puede acceder a la base de datos")
