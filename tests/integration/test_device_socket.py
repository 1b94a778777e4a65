"""``/ws/device`` over real WebSockets (Starlette's TestClient) on SQLite and PostgreSQL.

The device proves its key, the database hears of it (node, last seen, signed-in user, version),
refusals are told (and whether to forget) and audited without flooding the log, a second socket
replaces the first, session requests reach the device and its answers end the session when it
cannot start, a silent device ends it after the wait, and unenrolment and revocation close it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import update
from starlette.exceptions import StarletteDeprecationWarning
from tests.integration.device_socket_support import (
    Enrolled,
    call,
    closed_with,
    device_app,
    device_session,
    enrol,
    events,
    eventually,
    hello,
    line_of,
    recv,
    request_for,
    row,
    send,
)
from tests.support import ON_SQLITE

from veo.server.auth.models import User
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.devices import socket as device_socket
from veo.server.devices.auth_limit import MAX_FAILURES, create_auth_limiter
from veo.server.devices.line import CLOSE_REPLACED, DeviceLine
from veo.server.devices.models import Device
from veo.server.devices.socket import CLOSE_REFUSED
from veo.server.sessions.models import RemoteSession

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

pytestmark = pytest.mark.timeout(90)


@dataclass
class Env:
    app: FastAPI
    client: TestClient
    db: Database
    users: dict[str, User]
    ticket_id: int

    @property
    def line(self) -> DeviceLine:
        return line_of(self.app)

    def device(self) -> Any:
        return self.client.websocket_connect("/ws/device")

    def device_row(self, device: Enrolled) -> Device:
        found: Device = row(self.db, Device, device.device_id)
        return found

    def session(self, session_id: str) -> RemoteSession:
        found: RemoteSession = row(self.db, RemoteSession, session_id)
        return found


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[Env]:
    app, users, ticket_id = device_app(tmp_path, database_url)
    with TestClient(app) as client:
        yield Env(app, client, app.state.db, users, ticket_id)
    app.state.db.dispose()


# ---------------------------------------------------------------- authentication


def test_an_enrolled_device_is_welcomed_and_the_database_hears_of_it(env: Env) -> None:
    device = enrol(env.db, "Reception PC", policy="notify")
    with env.device() as ws:
        welcome = hello(ws, device, os_user="maria", agent_version="1.7.0")
        assert welcome == {
            "v": 1,
            "type": "device_welcome",
            "device_name": "Reception PC",
            "group": "Reception",
            "policy": "notify",
            "organization": "ACME IT",
        }
        found = env.device_row(device)
        assert found.connected_node == env.app.state.hub.node
        assert found.last_seen_at is not None
        assert (found.os_user, found.agent_version) == ("maria", "1.7.0")
        assert env.line.presence.holder(device.device_id) is not None
    # closed: the claim goes
    eventually(lambda: env.device_row(device).connected_node is None, what="the claim cleared")
    assert env.line.presence.holder(device.device_id) is None
    assert events(env.db, "device.auth_refused") == []


@pytest.mark.parametrize(
    ("database_url", "case", "reason", "forget"),
    [
        # a server that does not know the device (an old backup, the wrong server behind the
        # name) must not make it drop its key: only a proven revocation does
        ("sqlite", "unknown", "unknown_device", False),
        pytest.param("postgresql", "unknown", "unknown_device", False, marks=pytest.mark.postgres),
        # a bad signature is refused after the same lookup, with the same row, as the others:
        # SQLite alone (tests/support.ON_SQLITE's reason)
        ("sqlite", "other_key", "bad_signature", False),
        ("sqlite", "other_origin", "bad_signature", False),
        ("sqlite", "revoked", "revoked", True),
        pytest.param("postgresql", "revoked", "revoked", True, marks=pytest.mark.postgres),
    ],
    indirect=["database_url"],
)
def test_refusals_are_told_with_forget_and_audited(env: Env, case: str, reason: str, forget: bool) -> None:
    device = enrol(env.db)
    if case == "unknown":
        device = Enrolled("f" * 32, device.key)
    if case == "revoked":
        with env.db.session() as s:
            s.execute(update(Device).values(revoked_at=utcnow(), revoked_by="server"))
    with env.device() as ws:
        answer = hello(
            ws,
            device,
            key=Ed25519PrivateKey.generate() if case == "other_key" else None,
            origin="https://impostor.example" if case == "other_origin" else "http://veo.test",
        )
        assert answer == {"v": 1, "type": "device_refused", "reason": reason, "forget": forget}
        assert closed_with(ws) == CLOSE_REFUSED
    (event,) = events(env.db, "device.auth_refused")
    assert event.details == {"reason": reason, "device_id": device.device_id}
    assert event.actor == "device"
    assert env.line.presence.holder(device.device_id) is None
    if case != "unknown":
        assert env.device_row(device).connected_node is None


def test_stored_names_with_control_characters_cannot_close_a_device_for_good(env: Env) -> None:
    """A group or device name stored before the rule: the welcome carries it cleaned."""
    device = enrol(env.db, "Reception\x9b PC", group="Recep\x85tion")
    with env.device() as ws:
        welcome = hello(ws, device)
        assert welcome["type"] == "device_welcome"
        assert (welcome["device_name"], welcome["group"]) == ("Reception PC", "Recep tion")


# ---------------------------------------------------------------- refused authentications held back


@ON_SQLITE
def test_an_address_over_its_refusals_is_closed_without_a_database_read(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []
    found = device_socket._found

    def counting(s: Any, device_id: str, organization: str) -> Any:
        lookups.append(device_id)
        return found(s, device_id, organization)

    monkeypatch.setattr(device_socket, "_found", counting)
    assert MAX_FAILURES >= 10  # a real fleet's NAT has room for a few broken devices
    env.line.auth_limiter = create_auth_limiter(env.line.settings, max_failures=3)
    stranger = Enrolled("d" * 32, Ed25519PrivateKey.generate())
    for _ in range(3):
        with env.device() as ws:
            assert hello(ws, stranger)["reason"] == "unknown_device"
    assert len(lookups) == 3
    with env.device() as ws:
        recv(ws, "device_challenge")
        send(ws, {"type": "device_hello", "device_id": "d" * 32, "signature": "00" * 64})
        assert closed_with(ws) == 1013  # try again later: the device service backs off
    assert len(lookups) == 3  # nothing looked up once over
    assert env.line.throttled == 1
    assert env.line.refusals.pending() + len(events(env.db, "device.auth_refused")) == 3


@ON_SQLITE
def test_devices_that_authenticate_correctly_are_never_counted(env: Env) -> None:
    """A company NAT: many devices of one address, only refusals count toward its limit."""
    env.line.auth_limiter = create_auth_limiter(env.line.settings, max_failures=3)
    devices = [enrol(env.db, f"pc-{i:02d}") for i in range(8)]
    broken = Enrolled(devices[0].device_id, Ed25519PrivateKey.generate())
    for round_ in range(2):
        for device in devices:
            with env.device() as ws:
                assert hello(ws, device)["type"] == "device_welcome", round_
        with env.device() as ws:
            assert hello(ws, broken)["reason"] == "bad_signature"
    assert env.line.throttled == 0


@ON_SQLITE
def test_too_many_authentications_in_progress_from_one_address_wait(env: Env) -> None:
    env.line.auth_limiter = create_auth_limiter(env.line.settings, max_in_flight=1)
    device = enrol(env.db)
    with env.device() as idle:
        recv(idle, "device_challenge")  # holds the address's only place, answering nothing
        with env.device() as second:
            assert closed_with(second) == 1013
    # the place is given back once the idle socket went
    with env.device() as ws:
        assert hello(ws, device)["type"] == "device_welcome"


# ---------------------------------------------------------------- a copied key in use elsewhere


def test_a_socket_replaced_from_another_address_is_audited_once_per_window(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cloned disk alternating with the real device leaves one row per window, not one per flap;
    a device that reconnects from where it was leaves none."""
    where = iter(["10.0.0.7", "10.0.0.7", "203.0.113.9", "10.0.0.7", "203.0.113.9"])
    monkeypatch.setattr(device_socket, "client_address", lambda _ws: next(where))
    device = enrol(env.db)
    with env.device() as first:
        assert hello(first, device)["type"] == "device_welcome"
        with env.device() as same_place:  # the same address: a reconnect, no news
            assert hello(same_place, device)["type"] == "device_welcome"
            assert closed_with(first) == CLOSE_REPLACED
            assert events(env.db, "device.replaced") == []
            with env.device() as clone:
                assert hello(clone, device)["type"] == "device_welcome"
                assert closed_with(same_place) == CLOSE_REPLACED
                with env.device() as back, env.device() as again:
                    assert hello(back, device)["type"] == "device_welcome"
                    assert hello(again, device)["type"] == "device_welcome"
    (row_,) = events(env.db, "device.replaced")
    assert row_.details == {
        "device_id": device.device_id,
        "device_name": "Reception PC",
        "from": "10.0.0.7",
        "to": "203.0.113.9",
    }
    assert (row_.actor, row_.address) == ("device", "203.0.113.9")


# ---------------------------------------------------------------- revoked from the shell


def test_a_shell_revocation_ends_the_sessions_and_the_node_tells_their_peers(
    env: Env,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``veo admin device revoke`` reaches no node: it ends the sessions in the database (their
    codes refused from then on), and the node holding a session's agent socket announces the end
    at its next flush, once."""
    from veo.server import admin as admin_cli

    device = enrol(env.db)
    session = device_session(env.db, env.users, env.ticket_id, device)
    argv = ["--database-url", database_url, "--data-dir", str(tmp_path / "data")]
    assert admin_cli.main([*argv, "device", "revoke", device.device_id]) == 0
    out = capsys.readouterr().out
    assert "1 session on it was ended" in out
    assert "within a minute" in out
    ended = env.session(session.id)
    assert (ended.status, ended.ended_by, ended.end_reason) == ("ended", "system", "device_revoked")

    told: list[tuple[str, str, str]] = []

    async def announce(session_id: str, by: str, reason: str) -> None:
        told.append((session_id, by, reason))

    monkeypatch.setattr(env.app.state.hub, "announce_end", announce)
    held = env.app.state.hub.agent_sockets.held

    async def flush_holding_the_agent() -> None:
        held[session.id] = (1, object())  # this node holds the session's agent socket
        try:
            await env.line.flush_now()
            await env.line.flush_now()
        finally:
            held.pop(session.id, None)

    call(env.client, flush_holding_the_agent)
    assert told == [(session.id, "system", "device_revoked")]


def test_a_device_the_database_lost_is_refused_without_forget(env: Env) -> None:
    """Told ``unknown_device`` without forget (it keeps its key and tries again), audited."""
    device = enrol(env.db)
    with env.db.session() as s:
        row_ = s.get(Device, device.device_id)
        assert row_ is not None
        s.delete(row_)  # the database behind the name no longer has it (an old backup)
    with env.device() as ws:
        assert hello(ws, device) == {
            "v": 1,
            "type": "device_refused",
            "reason": "unknown_device",
            "forget": False,
        }
        assert closed_with(ws) == CLOSE_REFUSED
    assert [e.details["reason"] for e in events(env.db, "device.auth_refused")] == ["unknown_device"]


@ON_SQLITE
def test_a_first_message_that_is_no_hello_is_refused_as_malformed(env: Env) -> None:
    with env.device() as ws:
        recv(ws, "device_challenge")
        send(ws, {"type": "device_heartbeat"})
        assert recv(ws) == {"v": 1, "type": "device_refused", "reason": "malformed", "forget": False}
        assert closed_with(ws) == CLOSE_REFUSED
    with env.device() as ws:
        recv(ws, "device_challenge")
        ws.send_text("[[[[not json")
        assert recv(ws, "device_refused")["reason"] == "malformed"
    assert [e.details["reason"] for e in events(env.db, "device.auth_refused")] == ["malformed"]


@ON_SQLITE
def test_a_device_that_does_not_answer_in_time_is_refused(env: Env) -> None:
    env.line.challenge_seconds = 0.2
    with env.device() as ws:
        challenge = recv(ws, "device_challenge")
        assert len(bytes.fromhex(challenge["nonce"])) == 32
        assert recv(ws) == {"v": 1, "type": "device_refused", "reason": "challenge_expired", "forget": False}
        assert closed_with(ws) == CLOSE_REFUSED


@ON_SQLITE
def test_every_socket_gets_its_own_nonce(env: Env) -> None:
    nonces = set()
    for _ in range(5):
        with env.device() as ws:
            nonces.add(recv(ws, "device_challenge")["nonce"])
    assert len(nonces) == 5


def test_a_flood_of_refusals_writes_one_row_per_reason_and_counts_the_rest(env: Env) -> None:
    device = enrol(env.db)
    stranger = Enrolled("e" * 32, device.key)
    for _ in range(12):
        with env.device() as ws:
            assert hello(ws, stranger)["reason"] == "unknown_device"
    for _ in range(6):
        with env.device() as ws:
            assert hello(ws, device, key=Ed25519PrivateKey.generate())["reason"] == "bad_signature"
    # unknown ids: the first at once; an enrolled device's refused key: its first at once (its
    # own budget), then the first of that reason for the address (the summary counts the rest)
    assert [e.details["reason"] for e in events(env.db, "device.auth_refused")] == [
        "unknown_device",
        "bad_signature",
        "bad_signature",
    ]
    assert env.line.refusals.pending() == 15
    call(env.client, lambda: env.line.write_refusals(everything=True))
    rows = events(env.db, "device.auth_refused")
    assert len(rows) == 4
    summary = rows[-1].details
    assert summary["count"] == 15
    assert summary["reasons"] == {"bad_signature": 4, "unknown_device": 11}
    assert summary["device_ids"] == {"e" * 32: 11, device.device_id: 4}


def test_each_enrolled_device_refused_from_one_address_gets_a_row_of_its_own(env: Env) -> None:
    """A copied disk or a stolen key shows up at once, even among other refusals of its address."""
    devices = [enrol(env.db, f"pc-{i}") for i in range(3)]
    with env.db.session() as s:
        s.execute(update(Device).values(revoked_at=utcnow(), revoked_by="server"))
    for device in devices:
        for _ in range(2):
            with env.device() as ws:
                assert hello(ws, device)["reason"] == "revoked"
    rows = events(env.db, "device.auth_refused")
    assert [(e.details["reason"], e.details["device_id"]) for e in rows][:1] == [
        ("revoked", devices[0].device_id)
    ]
    assert {e.details["device_id"] for e in rows} == {d.device_id for d in devices}
    assert len(rows) == 4  # one per device, and the address's first "revoked" (a second try of pc-0)
    assert env.line.refusals.pending() == 2


def test_a_second_socket_of_the_device_replaces_the_first(env: Env) -> None:
    device = enrol(env.db)
    with env.device() as first:
        assert hello(first, device)["type"] == "device_welcome"
        held = env.line.presence.holder(device.device_id)
        with env.device() as second:
            assert hello(second, device)["type"] == "device_welcome"
            assert closed_with(first) == CLOSE_REPLACED
            assert env.line.presence.holder(device.device_id) is not held
            # the first one's close did not clear the second one's claim
            assert env.device_row(device).connected_node == env.app.state.hub.node
            send(second, {"type": "device_heartbeat", "os_user": "jo"})
            call(env.client, env.line.flush_now)
            assert env.device_row(device).os_user == "jo"


# ---------------------------------------------------------------- heartbeats and presence


def test_heartbeats_write_nothing_until_the_flush_writes_them_all_at_once(env: Env) -> None:
    device = enrol(env.db)
    with env.device() as ws:
        hello(ws, device, os_user="maria")
        at_hello = env.device_row(device).last_seen_at
        for user in ("maria", "maria", "pedro"):
            send(ws, {"type": "device_heartbeat", "os_user": user})
        # the socket's own handler noted them (a heartbeat after them lands in order)
        eventually(lambda: env.line.presence.holder(device.device_id).os_user == "pedro")  # type: ignore[union-attr]
        found = env.device_row(device)
        assert (found.last_seen_at, found.os_user) == (at_hello, "maria")
        call(env.client, env.line.flush_now)
        found = env.device_row(device)
        assert found.os_user == "pedro"
        assert found.last_seen_at is not None and at_hello is not None and found.last_seen_at >= at_hello
        # nothing new since: the next flush writes nothing for it
        with env.db.session() as s:
            s.execute(update(Device).values(os_user="changed elsewhere"))
        call(env.client, env.line.flush_now)
        assert env.device_row(device).os_user == "changed elsewhere"


def test_a_revocation_whose_notice_was_lost_is_found_by_the_flush(env: Env) -> None:
    device = enrol(env.db)
    with env.device() as ws:
        hello(ws, device)
        with env.db.session() as s:  # revoked by another node, its bus notice lost
            s.execute(update(Device).values(revoked_at=utcnow(), revoked_by="server"))
        call(env.client, env.line.flush_now)
        assert recv(ws) == {"v": 1, "type": "device_revoked"}
        assert closed_with(ws) == 1000


# ---------------------------------------------------------------- revocation and unenrolment


def test_revoked_from_the_server_closes_the_socket_at_once(env: Env) -> None:
    device = enrol(env.db)
    with env.device() as ws:
        hello(ws, device)
        call(env.client, env.line.revoked, device.device_id)
        assert recv(ws) == {"v": 1, "type": "device_revoked"}
        assert closed_with(ws) == 1000
    eventually(lambda: env.device_row(device).connected_node is None, what="the claim cleared")


@pytest.mark.parametrize("how", ["server", "device", "flush"])
def test_a_revocation_ends_the_devices_live_sessions(env: Env, how: str) -> None:
    """A session already running on a device must not outlive the enrolment that allowed it."""
    device = enrol(env.db)
    live = device_session(env.db, env.users, env.ticket_id, device)
    with env.device() as ws:
        hello(ws, device)
        if how == "server":
            with env.db.session() as s:
                s.execute(update(Device).values(revoked_at=utcnow(), revoked_by="server"))
            call(env.client, env.line.revoked, device.device_id)
        elif how == "device":
            send(ws, {"type": "device_unenrol"})
        else:  # revoked by `veo admin device revoke` (no app): this node's flush finds it
            with env.db.session() as s:
                s.execute(update(Device).values(revoked_at=utcnow(), revoked_by="server"))
            call(env.client, env.line.flush_now)
        assert recv(ws) == {"v": 1, "type": "device_revoked"}
    eventually(lambda: env.session(live.id).status == "ended", what="the live session ended")
    found = env.session(live.id)
    assert (found.ended_by, found.end_reason) == ("system", "device_revoked")


def test_unenrol_from_the_device_revokes_it(env: Env) -> None:
    device = enrol(env.db)
    with env.device() as ws:
        hello(ws, device)
        send(ws, {"type": "device_unenrol"})
        assert recv(ws) == {"v": 1, "type": "device_revoked"}
        assert closed_with(ws) == 1000
    found = env.device_row(device)
    assert found.revoked_at is not None and found.revoked_by == "device"
    (event,) = events(env.db, "device.revoked")
    assert event.details["by"] == "device" and event.details["device_id"] == device.device_id
    # and it cannot come back
    with env.device() as ws:
        assert hello(ws, device) == {"v": 1, "type": "device_refused", "reason": "revoked", "forget": True}


# ---------------------------------------------------------------- session requests


def test_a_request_reaches_the_device_and_a_launch_ends_the_wait(env: Env) -> None:
    device = enrol(env.db)
    session = device_session(env.db, env.users, env.ticket_id, device)
    request = request_for(session)
    with env.device() as ws:
        hello(ws, device)
        call(env.client, env.line.request_session, device.device_id, request)
        assert recv(ws, "session_request") == request.model_dump()
        assert env.line.pending() == {session.id}
        send(ws, {"type": "session_launch", "session_id": session.id, "ok": True})
        eventually(lambda: not env.line.pending(), what="the wait settled")
    assert env.session(session.id).status == "waiting"  # the session part joins next
    assert events(env.db, "session.device_launch_failed") == []


def test_a_failed_launch_ends_the_session_as_device_unavailable(env: Env) -> None:
    device = enrol(env.db)
    session = device_session(env.db, env.users, env.ticket_id, device)
    with env.device() as ws:
        hello(ws, device)
        call(env.client, env.line.request_session, device.device_id, request_for(session))
        recv(ws, "session_request")
        send(ws, {"type": "session_launch", "session_id": session.id, "ok": False, "problem": "no_desktop"})
        ended = eventually(lambda: env.session(session.id).status == "ended", what="the session ended")
        assert ended
    found = env.session(session.id)
    assert (found.ended_by, found.end_reason) == ("system", "device_unavailable")
    (failed,) = events(env.db, "session.device_launch_failed")
    assert failed.details == {"problem": "no_desktop", "device_id": device.device_id}
    assert failed.session_id == session.id
    assert not env.line.pending()


def test_a_device_that_never_answers_ends_the_session_as_device_unreachable(env: Env) -> None:
    env.line.launch_seconds = 0.2
    device = enrol(env.db)
    session = device_session(env.db, env.users, env.ticket_id, device)
    with env.device() as ws:
        hello(ws, device)
        call(env.client, env.line.request_session, device.device_id, request_for(session))
        recv(ws, "session_request")
        eventually(lambda: env.session(session.id).status == "ended", what="the session ended")
    found = env.session(session.id)
    assert (found.ended_by, found.end_reason) == ("system", "device_unreachable")
    (ended,) = [e for e in events(env.db, "session.ended") if e.session_id == session.id]
    assert ended.details["device_id"] == device.device_id


def test_a_request_for_a_device_nobody_holds_ends_after_the_wait(env: Env) -> None:
    env.line.launch_seconds = 0.2
    device = enrol(env.db)
    session = device_session(env.db, env.users, env.ticket_id, device)
    call(env.client, env.line.request_session, device.device_id, request_for(session))
    eventually(lambda: env.session(session.id).end_reason == "device_unreachable", what="the session ended")


@ON_SQLITE
def test_a_device_cannot_answer_for_another_devices_session(env: Env) -> None:
    target, other = enrol(env.db, "Target"), enrol(env.db, "Other")
    session = device_session(env.db, env.users, env.ticket_id, target)
    with env.device() as ws_target, env.device() as ws_other:
        hello(ws_target, target)
        hello(ws_other, other)
        call(env.client, env.line.request_session, target.device_id, request_for(session))
        recv(ws_target, "session_request")
        send(ws_other, {"type": "session_launch", "session_id": session.id, "ok": False, "problem": "busy"})
        # a heartbeat after it on the same socket: once it is noted, the launch was handled
        send(ws_other, {"type": "device_heartbeat", "os_user": "after"})
        eventually(lambda: env.line.presence.holder(other.device_id).os_user == "after")  # type: ignore[union-attr]
        assert env.session(session.id).status == "waiting"
        assert env.line.pending() == {session.id}
    assert events(env.db, "session.device_launch_failed") == []


@ON_SQLITE
def test_garbage_after_the_welcome_is_ignored(env: Env) -> None:
    device = enrol(env.db)
    with env.device() as ws:
        hello(ws, device)
        ws.send_text("not json")
        send(ws, {"type": "no_such_thing"})
        send(ws, {"type": "device_heartbeat", "os_user": "still here"})
        eventually(lambda: env.line.presence.holder(device.device_id).os_user == "still here")  # type: ignore[union-attr]


@ON_SQLITE
def test_a_device_answers_each_request_once(env: Env) -> None:
    device = enrol(env.db)
    session = device_session(env.db, env.users, env.ticket_id, device)
    with env.device() as ws:
        hello(ws, device)
        call(env.client, env.line.request_session, device.device_id, request_for(session))
        recv(ws, "session_request")
        send(ws, {"type": "session_launch", "session_id": session.id, "ok": True})
        eventually(lambda: not env.line.pending(), what="the wait settled")
        # a second answer for the same session is not taken: it cannot end the session now
        send(ws, {"type": "session_launch", "session_id": session.id, "ok": False, "problem": "busy"})
        send(ws, {"type": "device_heartbeat", "os_user": "after"})
        eventually(lambda: env.line.presence.holder(device.device_id).os_user == "after")  # type: ignore[union-attr]
    assert env.session(session.id).status == "waiting"
    assert events(env.db, "session.device_launch_failed") == []


def test_a_request_delivered_to_a_replaced_socket_may_be_answered_on_the_new_one(env: Env) -> None:
    device = enrol(env.db)
    session = device_session(env.db, env.users, env.ticket_id, device)
    with env.device() as first:
        hello(first, device)
        call(env.client, env.line.request_session, device.device_id, request_for(session))
        recv(first, "session_request")
        with env.device() as second:
            hello(second, device)
            assert closed_with(first) == CLOSE_REPLACED
            send(second, {"type": "session_launch", "session_id": session.id, "ok": False, "problem": "busy"})
            eventually(lambda: env.session(session.id).end_reason == "device_unavailable", what="the end")


def test_a_request_the_bus_cannot_carry_ends_the_session_at_once(env: Env) -> None:
    from veo.server.bus.base import BusUnavailableError

    async def unavailable(channel: str, message: str) -> None:
        raise BusUnavailableError("Redis is down")

    device = enrol(env.db)
    session = device_session(env.db, env.users, env.ticket_id, device)
    env.app.state.hub.bus.publish = unavailable  # the device is held by no node here: the bus it is
    call(env.client, env.line.request_session, device.device_id, request_for(session))
    # well before the 20 s wait
    eventually(lambda: env.session(session.id).end_reason == "device_unreachable", within=10, what="the end")
    assert not env.line.pending()


def test_many_devices_cost_one_subscription_no_write_per_heartbeat_and_one_flush(env: Env) -> None:
    """Fifty devices on one node: one bus subscription for all; their heartbeats write nothing;
    the flush writes them all in one statement, plus one for the one whose user changed."""
    from contextlib import ExitStack

    from sqlalchemy import event

    devices = [enrol(env.db, f"pc-{i:02d}") for i in range(50)]
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "devices" in statement:  # the hub's own loops (sweep, expiry) run meanwhile
            statements.append(statement.split()[0].upper())

    with ExitStack() as stack:
        sockets = [stack.enter_context(env.device()) for _ in devices]
        for ws, device in zip(sockets, devices, strict=True):
            assert hello(ws, device, os_user="maria")["type"] == "device_welcome"
        assert env.app.state.bus.subscriber_count("devices") == 1
        assert len(env.line.presence.held) == 50
        event.listen(env.db.engine, "before_cursor_execute", count)
        try:
            for ws in sockets:
                send(ws, {"type": "device_heartbeat", "os_user": "maria"})
            send(sockets[0], {"type": "device_heartbeat", "os_user": "pedro"})
            eventually(lambda: all(c.seen for c in env.line.presence.held.values()), what="heartbeats noted")
            assert [s for s in statements if s in ("UPDATE", "INSERT", "DELETE")] == []
            call(env.client, env.line.flush_now)
        finally:
            event.remove(env.db.engine, "before_cursor_execute", count)
        assert statements.count("UPDATE") == 2  # everyone's last_seen_at, and pedro
        assert statements.count("SELECT") == 1  # revoked meanwhile?
    eventually(lambda: not env.line.presence.held, what="all released")


@ON_SQLITE
def test_a_database_that_is_down_closes_the_socket_to_be_tried_again_later(env: Env) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    class Down:
        async def run(self, work: Any) -> Any:
            raise PoolTimeout("no connection free in time")

    device = enrol(env.db)
    env.line.db = Down()  # type: ignore[assignment]
    with env.device() as ws:
        recv(ws, "device_challenge")
        send(ws, {"type": "device_hello", "device_id": device.device_id, "signature": "00" * 64})
        assert closed_with(ws) == 1013
    assert env.line.presence.holder(device.device_id) is None


def test_whatever_a_stranger_sends_first_it_is_refused_and_never_welcomed(env: Env) -> None:
    """Hypothesis over the real socket: raw text, bytes, JSON, and hellos with drawn fields (a
    real device's id among them). The answer is always ``device_refused`` and the socket closes."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    # every drawn hello is a refusal of one address: past the usual limit they would be held back
    env.line.auth_limiter = create_auth_limiter(
        env.line.settings, max_failures=1000, prefix_max_failures=4000
    )
    device = enrol(env.db)
    hex_text = st.text(alphabet="0123456789abcdef", min_size=0, max_size=140)
    hellos = st.fixed_dictionaries(
        {
            "v": st.sampled_from([1, 2, "1"]),
            "type": st.just("device_hello"),
            "device_id": st.one_of(st.just(device.device_id), hex_text, st.text(max_size=40)),
            "signature": st.one_of(st.just("00" * 64), hex_text, st.text(max_size=20)),
        },
        optional={
            "os_user": st.text(max_size=200),
            "agent_version": st.text(max_size=60),
            "extra": st.integers(),
        },
    ).map(json.dumps)
    first = st.one_of(st.text(max_size=300), hellos, st.binary(max_size=300))

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(raw=first)
    def check(raw: str | bytes) -> None:
        with env.device() as ws:
            recv(ws, "device_challenge")
            if isinstance(raw, bytes):
                ws.send_bytes(raw)
            else:
                ws.send_text(raw)
            answer = recv(ws)
            assert answer["type"] == "device_refused", answer
            assert answer["reason"] in ("malformed", "bad_signature", "unknown_device")
            assert closed_with(ws) == CLOSE_REFUSED

    check()
    assert env.line.presence.holder(device.device_id) is None
    assert env.device_row(device).connected_node is None
