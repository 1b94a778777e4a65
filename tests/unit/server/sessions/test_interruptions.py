"""The durable side of resuming (``sessions/interruptions.py``), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Literal

from sqlalchemy import select

from veo.server.audit.models import AuditEvent
from veo.server.audit.verify import verify_chain
from veo.server.db.base import utcnow
from veo.server.sessions import interruptions, redeem, service
from veo.server.sessions.models import RemoteSession

from .conftest import World


def _joined(w: World, status: str = "active") -> tuple[str, str]:
    """A session an agent joined (``status``), and its rejoin token."""
    with w.db.session() as s:
        created = service.create_session(
            s, ticket_id=w.ticket.id, technician=w.tech, permissions=None, ttl_seconds=600
        )
        code = created.code
        assert code is not None
        session = redeem.redeem_code(s, code, address="192.0.2.1")
        assert isinstance(session, RemoteSession)
        token = interruptions.issue_token(session)
        session.status = status
        return session.id, token


def _events(w: World, session_id: str, action: str) -> list[AuditEvent]:
    with w.db.session() as s:
        stmt = select(AuditEvent).where(AuditEvent.session_id == session_id, AuditEvent.action == action)
        return list(s.scalars(stmt.order_by(AuditEvent.seq)))


def test_only_the_tokens_digest_is_stored_and_only_the_token_finds_the_session(world: World) -> None:
    sid, token = _joined(world)
    with world.db.session() as s:
        row = s.get(RemoteSession, sid)
        assert row is not None and row.resume_token_digest == interruptions.token_digest(token)
        assert token not in (row.resume_token_digest or "")
        assert interruptions.find_for_rejoin(s, sid, token) is row
        assert interruptions.find_for_rejoin(s, sid, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert interruptions.find_for_rejoin(s, "no-such-session", token) is None


def test_an_interruption_is_audited_once_and_a_restart_does_not_extend_its_deadline(world: World) -> None:
    sid, _ = _joined(world)
    then = utcnow()
    with world.db.session() as s:
        first = interruptions.record_interrupted(s, sid, cause="heartbeat", link="media", now=then)
        assert first is not None and first.resume_deadline == then + timedelta(seconds=120)
    with world.db.session() as s:  # the server restarts 30 s later: the liveness sweep takes over
        assert [c.id for c in interruptions.connected_sessions(s)] == [sid]
        again = interruptions.record_interrupted(s, sid, cause="server_start", link="server_restart")
        assert again is not None and again.resume_deadline == then + timedelta(seconds=120)
    [event] = _events(world, sid, "session.interrupted")
    assert event.details["link"] == "media" and event.details["cause"] == "heartbeat"


def test_the_deadline_ends_the_session_only_if_it_did_not_resume_first(world: World) -> None:
    sid, _ = _joined(world)
    then = utcnow() - timedelta(seconds=200)
    with world.db.session() as s:
        interruptions.record_interrupted(s, sid, cause="closed", link="media", now=then)
    with world.db.session() as s:
        resumed = interruptions.record_resumed(s, sid, verified_by="proof")
        assert resumed is not None and resumed.resume_deadline is None
    with world.db.session() as s:  # a timer that lost the race ends nothing
        assert interruptions.end_lost(s, sid) is False
    [event] = _events(world, sid, "session.resumed")
    assert event.details["verified_by"] == "proof" and event.details["seconds"] >= 200
    with world.db.session() as s:
        interruptions.record_interrupted(s, sid, cause="closed", link="media", now=then)
    with world.db.session() as s:
        assert interruptions.end_lost(s, sid) is True
        row = s.get(RemoteSession, sid)
        assert row is not None and (row.status, row.end_reason) == ("ended", "connection_lost")
    with world.db.session() as s:
        assert verify_chain(s).ok


def test_connection_kept_without_an_interruption_writes_nothing(world: World) -> None:
    sid, _ = _joined(world)
    with world.db.session() as s:
        assert interruptions.record_resumed(s, sid, verified_by="connection_kept") is None
        assert interruptions.record_resumed(s, sid, verified_by="rejoined") is None
    assert _events(world, sid, "session.resumed") == []


def test_the_third_refused_proof_ends_the_session(world: World) -> None:
    sid, _ = _joined(world)
    outcomes = []
    sides: tuple[Literal["agent", "console"], ...] = ("agent", "console", "agent")
    for by in sides:
        with world.db.session() as s:
            outcomes.append(
                interruptions.record_resume_refused(s, sid, reason="bad_proof", by=by, actor="agent")
            )
    assert outcomes == [False, False, True]
    with world.db.session() as s:
        row = s.get(RemoteSession, sid)
        assert row is not None and (row.end_reason, row.resume_failures) == ("resume_failed", 3)
        assert (
            interruptions.record_resume_refused(s, sid, reason="bad_proof", by="agent", actor="agent")
            is False
        )
    assert [e.details["failures"] for e in _events(world, sid, "session.resume_refused")] == [1, 2, 3]


def test_two_nodes_interrupting_at_once_write_one_interruption(world: World) -> None:
    """Two liveness sweeps (two nodes) find the same dead node's session at the same moment: the
    row's lock and the deadline check make one interruption, audited once."""
    sid, _ = _joined(world)
    start = threading.Barrier(2)
    deadlines: list[object] = []

    def sweep() -> None:
        start.wait()
        with world.db.session() as s:
            session = interruptions.record_interrupted(s, sid, cause="node_lost", link="server_restart")
            assert session is not None
            deadlines.append(session.resume_deadline)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(deadlines) == 2 and deadlines[0] == deadlines[1] is not None
    [event] = _events(world, sid, "session.interrupted")
    assert event.details["cause"] == "node_lost"
    with world.db.session() as s:
        assert verify_chain(s).ok
