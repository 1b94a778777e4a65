"""An account cut off, or its role cut down, while its console is open: through the real app.

Unlike the other signaling tests, these sign in for real (the session cookie on ``/ws/console``)
and change the account the way an admin or the technician does: the admin API, the account
pages, the role policies. A stand-in agent (``test_signaling``'s helpers) and the real console
socket are driven to the moment just before "Codes match"; then the account changes, the console
sends ``sas_confirm`` at once, and the agent must hear the end of the session, never the
technician's confirmation that unlocks control. SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.exceptions import StarletteDeprecationWarning
from starlette.websockets import WebSocketDisconnect
from tests.integration.test_signaling import join, negotiate, recv, send
from tests.support import PASSWORD, csrf_from, make_user

from veo.config import Settings
from veo.server.app import create_app
from veo.server.audit.models import AuditEvent
from veo.server.auth import accounts, service, totp
from veo.server.auth.models import User
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.policies.capabilities import Capability
from veo.server.sessions import service as sessions
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Ticket

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient, WebSocketTestSession

pytestmark = pytest.mark.timeout(90)

BASE = "http://127.0.0.1:8000"
ORIGIN = {"origin": BASE}
TECH = "tech@example.org"
ADMIN = "root@example.org"
CUT_OFF_CLOSE = 4401
VIEW_ONLY = {Capability.VIEW}
ALL_FOUR = {Capability.VIEW, Capability.CONTROL, Capability.CLIPBOARD, Capability.FILES}


@dataclass
class World:
    app: FastAPI
    tech: TestClient  # signed in as the technician (cookie)
    admin: dict[str, str]  # the administrator's bearer token
    ticket_id: int

    @property
    def db(self) -> Database:
        db: Database = self.app.state.db
        return db

    def user_id(self, email: str = TECH) -> int:
        with self.db.session() as s:
            found = s.scalar(select(User.id).where(User.email == email))
        assert found is not None
        return found

    def issue(self, permissions: list[str] | None = None) -> tuple[str, str]:
        """A session and its code, issued under the technician's policy of now."""
        with self.db.session() as s:
            technician = s.get(User, self.user_id())
            assert technician is not None
            created = sessions.create_session(
                s,
                ticket_id=self.ticket_id,
                technician=technician,
                permissions=permissions or ["view", "control", "clipboard", "files"],
                ttl_seconds=600,
            )
            assert created.code is not None
            return created.id, created.code

    def console(self, session_id: str) -> Any:
        """The console socket with the technician's cookie (the test client's socket sends none)."""
        cookie = "; ".join(f"{name}={value}" for name, value in self.tech.cookies.items())
        headers = {**ORIGIN, "cookie": cookie}
        return self.tech.websocket_connect(f"/ws/console?session={session_id}", headers=headers)

    def agent(self) -> Any:
        return self.tech.websocket_connect("/ws/agent")

    def row(self, session_id: str) -> RemoteSession:
        with self.db.session() as s:
            found = s.get(RemoteSession, session_id)
            assert found is not None
            return found

    def actions(self, session_id: str, action: str | None = None) -> list[AuditEvent]:
        with self.db.session() as s:
            stmt = select(AuditEvent).where(AuditEvent.session_id == session_id).order_by(AuditEvent.seq)
            if action is not None:
                stmt = stmt.where(AuditEvent.action == action)
            return list(s.scalars(stmt))

    def patch_account(self, **change: object) -> None:
        """The technician's account, through the admin API."""
        r = self.tech.patch(f"/api/v1/admin/users/{self.user_id()}", headers=self.admin, json=change)
        assert r.status_code == 200, r.text

    def policy(self, role: str, capabilities: set[Capability], *, totp_required: bool = False) -> None:
        """Through the admin API, as an administrator changes it."""
        r = self.tech.put(
            f"/api/v1/admin/roles/{role}",
            headers=self.admin,
            json={
                "capabilities": sorted(c.value for c in capabilities),
                "totp_required": totp_required,
                "identity_before_control": False,
            },
        )
        assert r.status_code == 200, r.text


def _admin_token(client: TestClient, db: Database) -> dict[str, str]:
    """An enrolled administrator's bearer token (no cookie: the technician's stays in the jar)."""
    make_user(db, ADMIN, name="Ada Admin", role="admin")
    with db.session() as s:
        admin = service.get_by_email(s, ADMIN)
        assert admin is not None
        secret = totp.start_enrolment(s, admin).secret
        earlier = utcnow() - timedelta(seconds=30)
        assert totp.confirm_enrolment(s, admin, pyotp.TOTP(secret).at(earlier), now=earlier)
    r = client.post(
        "/api/v1/auth/token", json={"email": ADMIN, "password": PASSWORD, "totp": pyotp.TOTP(secret).now()}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, public_url=BASE, organization="ACME IT"
    )
    app = create_app(settings)
    with TestClient(app, base_url=BASE) as client:
        db: Database = app.state.db
        make_user(db, TECH)
        admin = _admin_token(client, db)
        signed_in = client.post("/login", data={"email": TECH, "password": PASSWORD}, follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
        with db.session() as s:
            ticket = Ticket(title="Printer offline", requester_name="Bob", requester_email="bob@example.org")
            s.add(ticket)
            s.flush()
            ticket_id = ticket.id
        yield World(app, client, admin, ticket_id)


# ---------------------------------------------------------------- helpers


def to_the_codes(world: World, console: WebSocketTestSession, agent: WebSocketTestSession, code: str) -> None:
    """Join, negotiate, consent to everything asked: the step right before "Codes match"."""
    assert recv(console, "session_state")["status"] == "waiting"
    joined = join(agent, code)
    assert joined["type"] == "joined", joined
    recv(console, "agent_joined")
    recv(console, "session_state")
    negotiate(agent, console)
    send(agent, {"type": "consent", "granted": joined["requested"], "sas_confirmed": True})
    recv(console, "consent")
    assert recv(console, "session_state")["status"] == "active"


def console_until_closed(console: WebSocketTestSession) -> tuple[list[dict[str, Any]], int]:
    """Every message the console still gets, and the close code that ends them."""
    seen: list[dict[str, Any]] = []
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            seen.append(console.receive_json())
    return seen, closed.value.code


def agent_hears_the_end(agent: WebSocketTestSession, reason: str) -> None:
    """The agent's next message ends the session: the confirmation never came before it."""
    message = agent.receive_json()
    assert message == {"v": 1, "type": "ended", "by": "system", "reason": reason}, message
    with pytest.raises(WebSocketDisconnect):
        agent.receive_json()


def assert_cut_off(world: World, session_id: str, reason: str) -> None:
    row = world.row(session_id)
    assert (row.status, row.ended_by, row.end_reason) == ("ended", "system", reason)
    assert not row.technician_sas_confirmed
    (ended,) = world.actions(session_id, "session.ended")
    assert ended.actor == "system" and ended.details["reason"] == reason
    assert world.actions(session_id, "session.sas_confirmed_by_technician") == []


def cut_and_confirm(world: World, change: Any, reason: str, *, close_code: int | None = CUT_OFF_CLOSE) -> str:
    """Drive a session to the codes, apply ``change``, send "Codes match" at once; check the end."""
    session_id, code = world.issue()
    with world.console(session_id) as console, world.agent() as agent:
        to_the_codes(world, console, agent, code)
        change()
        send(console, {"type": "sas_confirm"})
        agent_hears_the_end(agent, reason)
        seen, closed = console_until_closed(console)
        ends = [m for m in seen if m["type"] == "ended"]
        assert ends and all(m["reason"] == reason for m in ends), seen
        assert not any(m["type"] == "session_state" and m["technician_sas_confirmed"] for m in seen)
        if close_code is not None:
            assert closed == close_code
    assert_cut_off(world, session_id, reason)
    return session_id


# ---------------------------------------------------------------- item 5: access cut off


def test_deactivating_the_technician_ends_the_session_and_sas_confirm_never_arrives(world: World) -> None:
    def deactivate() -> None:
        world.patch_account(is_active=False)

    session_id = cut_and_confirm(world, deactivate, "account_deactivated")
    (ended,) = world.actions(session_id, "session.ended")
    assert ended.details["account"] == TECH and ended.details["change"] == "account_deactivated"


def test_sign_out_everywhere_ends_the_session(world: World) -> None:
    def sign_out_everywhere() -> None:
        csrf = csrf_from(world.tech.get("/account").text)
        r = world.tech.post("/account/sign-out-everywhere", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 303, r.text

    cut_and_confirm(world, sign_out_everywhere, "signed_out_everywhere")


def test_a_password_change_ends_the_session(world: World) -> None:
    def change_password() -> None:
        csrf = csrf_from(world.tech.get("/account/password").text)
        r = world.tech.post(
            "/account/password",
            data={
                "csrf_token": csrf,
                "current_password": PASSWORD,
                "new_password": "a brand new passphrase",
                "confirm_password": "a brand new passphrase",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text

    cut_and_confirm(world, change_password, "password_changed")


def test_a_totp_reset_by_an_admin_ends_the_session(world: World) -> None:
    """A lost phone may be in other hands: the reset signs the account out everywhere."""

    def reset() -> None:
        r = world.tech.post(f"/api/v1/admin/users/{world.user_id()}/reset-totp", headers=world.admin)
        assert r.status_code == 200, r.text

    cut_and_confirm(world, reset, "signed_out_everywhere")


def test_totp_required_for_an_account_without_it_ends_the_session(world: World) -> None:
    cut_and_confirm(world, lambda: world.policy("technician", ALL_FOUR, totp_required=True), "totp_required")


def test_a_role_change_to_a_view_only_role_revokes_control_by_ending(world: World) -> None:
    """The role change's own commit hook ends the session and records what changed
    (``role_changed``). The test waits for it before "Codes match": sent at once, the message's
    own check could come first (under load it did), which ends the session too but knows only
    that the session is beyond the policy now (``change: policy_changed``)."""
    world.policy("lead", VIEW_ONLY)

    def ended_count() -> int:
        with world.db.session() as s:
            return len(s.scalars(select(AuditEvent).where(AuditEvent.action == "session.ended")).all())

    def demote() -> None:
        before = ended_count()
        world.patch_account(role="lead")
        deadline = time.monotonic() + 10
        while ended_count() == before:
            assert time.monotonic() < deadline, "the role change ended no session"
            time.sleep(0.02)

    session_id = cut_and_confirm(world, demote, "policy_changed", close_code=None)
    (ended,) = world.actions(session_id, "session.ended")
    assert ended.details["change"] == "role_changed"


def test_a_role_keeping_what_was_granted_leaves_the_session_running(world: World) -> None:
    """A promotion (technician -> lead with the same permissions) cuts nothing."""
    session_id, code = world.issue()
    with world.console(session_id) as console, world.agent() as agent:
        to_the_codes(world, console, agent, code)
        world.patch_account(role="lead")
        send(console, {"type": "sas_confirm"})
        assert recv(agent, "technician_confirmed")["sas_confirmed"] is True
        assert recv(console, "session_state")["technician_sas_confirmed"] is True
        send(console, {"type": "hangup"})
        recv(agent, "ended")
    assert world.row(session_id).ended_by == "technician"


def test_a_change_made_elsewhere_is_caught_by_the_next_console_message(world: World) -> None:
    """``veo admin`` or another node: no commit hook here, the socket stays open until it speaks."""
    session_id, code = world.issue()
    elsewhere = Database(world.db.url)
    try:
        with world.console(session_id) as console, world.agent() as agent:
            to_the_codes(world, console, agent, code)
            with elsewhere.session() as s:
                user = s.get(User, world.user_id())
                assert user is not None
                accounts.set_active(s, user, False, actor="cli")
            send(console, {"type": "sas_confirm"})
            agent_hears_the_end(agent, "account_deactivated")
            seen, closed = console_until_closed(console)
            assert closed == CUT_OFF_CLOSE
            assert [m["reason"] for m in seen if m["type"] == "ended"][:1] == ["account_deactivated"]
    finally:
        elsewhere.dispose()
    assert_cut_off(world, session_id, "account_deactivated")


def test_a_waiting_code_dies_with_its_deactivated_technician(world: World) -> None:
    session_id, code = world.issue()
    world.patch_account(is_active=False)
    with world.agent() as agent:
        assert join(agent, code)["code"] == "code_used"
    row = world.row(session_id)
    assert (row.status, row.end_reason, row.code) == ("ended", "account_deactivated", None)


# ---------------------------------------------------------------- item 14: the policy of now


def test_a_code_issued_before_the_role_was_cut_to_view_only_joins_with_view_only(world: World) -> None:
    session_id, code = world.issue()
    assert world.row(session_id).requested_permissions == ["view", "control", "clipboard", "files"]
    world.policy("technician", VIEW_ONLY)
    with world.console(session_id) as console, world.agent() as agent:
        recv(console, "session_state")
        joined = join(agent, code)
        assert joined["requested"] == ["view"]
        recv(console, "agent_joined")
        assert recv(console, "session_state")["requested"] == ["view"]
        negotiate(agent, console)
        send(agent, {"type": "consent", "granted": ["view"], "sas_confirmed": True})
        assert recv(console, "consent")["granted"] == ["view"]
        assert recv(console, "session_state")["status"] == "active"
        send(console, {"type": "hangup"})
        recv(agent, "ended")
    row = world.row(session_id)
    assert row.granted_permissions == ["view"] and row.end_reason == "hangup"
    (narrowed,) = world.actions(session_id, "session.request_narrowed")
    assert narrowed.details["before"] == ["view", "control", "clipboard", "files"]
    assert narrowed.details["after"] == ["view"]


def test_a_cut_between_join_and_consent_ends_instead_of_granting(world: World) -> None:
    session_id, code = world.issue()
    with world.console(session_id) as console, world.agent() as agent:
        recv(console, "session_state")
        joined = join(agent, code)
        recv(console, "agent_joined")
        recv(console, "session_state")
        negotiate(agent, console)
        world.policy("technician", VIEW_ONLY)
        send(agent, {"type": "consent", "granted": joined["requested"], "sas_confirmed": True})
        agent_hears_the_end(agent, "policy_changed")
    row = world.row(session_id)
    assert (row.status, row.end_reason) == ("ended", "policy_changed")
    assert row.granted_permissions == ["view"]  # what the record holds never exceeds the policy
    (ended,) = world.actions(session_id, "session.ended")
    assert ended.details["beyond_policy"] == ["control", "clipboard", "files"]


def test_a_cut_while_the_user_is_asked_ends_instead_of_granting(world: World) -> None:
    session_id, code = world.issue(["view"])
    with world.console(session_id) as console, world.agent() as agent:
        to_the_codes(world, console, agent, code)
        send(console, {"type": "permission_request", "permissions": ["control"]})
        ask = recv(agent, "permission_ask")
        world.policy("technician", VIEW_ONLY)
        answer = {"id": ask["id"], "outcome": "accepted", "granted": ["control"]}
        send(agent, {"type": "permission_answer", **answer})
        agent_hears_the_end(agent, "policy_changed")
    row = world.row(session_id)
    assert (row.status, row.end_reason, row.granted_permissions) == ("ended", "policy_changed", ["view"])
    (answer,) = world.actions(session_id, "session.permission_refused")
    assert answer.details["beyond_policy"] == ["control"]
