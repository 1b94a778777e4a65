"""Session state changes and their audit events, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.server.audit.models import AuditEvent
from veo.server.db.base import utcnow
from veo.server.sessions import redeem, service
from veo.server.sessions.models import RemoteSession

from .conftest import World


def _create(w: World, permissions: list[str] | None = None) -> RemoteSession:
    with w.db.session() as s:
        return service.create_session(
            s, ticket_id=w.ticket.id, technician=w.tech, permissions=permissions, ttl_seconds=600
        )


def _actions(s: Session, session_id: str | None = None) -> list[str]:
    stmt = select(AuditEvent).order_by(AuditEvent.seq)
    if session_id is not None:
        stmt = stmt.where(AuditEvent.session_id == session_id)
    return [e.action for e in s.scalars(stmt)]


def test_create_defaults_and_validates_permissions(world: World) -> None:
    session = _create(world)
    assert session.status == "waiting"
    assert session.requested_permissions == ["view", "control"]
    assert session.code is not None and len(session.code) == 9
    assert _create(world, ["files", "view"]).requested_permissions == ["view", "files"]
    refusals = (["root"], "invalid_permission"), ([], "no_permission"), (["control"], "permission_needs_view")
    for bad, code in refusals:
        with pytest.raises(service.SessionError) as info:
            _create(world, bad)
        assert info.value.code == code
    with world.db.session() as s, pytest.raises(service.SessionError) as info:
        service.create_session(s, ticket_id=999, technician=world.tech, permissions=None, ttl_seconds=600)
    assert info.value.code == "ticket_not_found"
    with world.db.session() as s:
        assert _actions(s, session.id) == ["session.requested"]


def test_redeem_is_single_use_and_answers_precisely(world: World) -> None:
    session = _create(world)
    code = session.code
    assert code is not None
    with world.db.session() as s:
        joined = redeem.redeem_code(s, code, address="192.0.2.1", platform="linux")
        assert isinstance(joined, RemoteSession)
        assert joined.status == "joined" and joined.code is None and joined.joined_at is not None
    with world.db.session() as s:
        assert redeem.redeem_code(s, code, address="192.0.2.1") == "used"
        other = "000000000" if code != "000000000" else "000000001"
        assert redeem.redeem_code(s, other, address="192.0.2.1") == "unknown"


def test_expired_code_and_expiry_sweep(world: World) -> None:
    late = _create(world)
    swept = _create(world)
    with world.db.session() as s:
        for sid in (late.id, swept.id):
            row = s.get(RemoteSession, sid)
            assert row is not None
            row.code_expires_at = utcnow() - timedelta(seconds=1)
    with world.db.session() as s:
        assert late.code is not None
        assert redeem.redeem_code(s, late.code, address="192.0.2.1") == "expired"
    with world.db.session() as s:
        assert late.code is not None
        assert redeem.redeem_code(s, late.code, address="192.0.2.1") == "expired"
        assert service.expire_waiting(s) == [swept.id]
        row = s.get(RemoteSession, swept.id)
        assert row is not None and row.status == "expired" and row.code is None
        assert _actions(s, swept.id) == ["session.requested", "session.expired"]


def test_consent_grant_is_intersection_and_end_is_recorded_once(world: World) -> None:
    session = _create(world)
    assert session.code is not None
    with world.db.session() as s:
        redeem.redeem_code(s, session.code, address="192.0.2.1")
        assert service.record_offer(s, session.id)
        assert not service.record_offer(s, session.id)
        active = service.record_consent(
            s, session.id, granted_by_user=["view", "files", "control"], sas_confirmed=True
        )
        assert active.granted_permissions == ["view", "control"]
        assert active.status == "active" and active.started_at is not None
        assert service.record_control(s, session.id, paused=True)
        assert service.end_session(s, session.id, by="technician", reason="fixed", actor="tech@example.org")
        assert not service.end_session(s, session.id, by="user", reason="again", actor="agent")
    with world.db.session() as s:
        row = s.get(RemoteSession, session.id)
        assert row is not None
        assert (row.status, row.ended_by, row.end_reason) == ("ended", "technician", "fixed")
        assert row.duration_seconds is not None and row.duration_seconds >= 0
        assert _actions(s, session.id) == [
            "session.requested",
            "session.joined",
            "session.negotiating",
            "session.consented",
            "session.control_paused",
            "session.ended",
        ]
        ended = s.scalars(select(AuditEvent).where(AuditEvent.action == "session.ended")).one()
        assert ended.details["granted"] == ["view", "control"]
        assert ended.details["by"] == "technician"


def test_deny_mismatch_note_and_rejections(world: World) -> None:
    denied = _create(world)
    aborted = _create(world)
    with world.db.session() as s:
        assert service.record_deny(s, denied.id)
        assert not service.record_deny(s, denied.id)
        assert service.record_sas_mismatch(s, aborted.id, reason="sas_commitment_mismatch", actor="t")
        redeem.record_rejected(s, address="192.0.2.9", reason="unknown")
        with pytest.raises(service.SessionError):
            service.add_note(s, denied.id, note="   ", actor="t")
        service.add_note(s, denied.id, note="Printer driver reinstalled", actor="t")
    with world.db.session() as s:
        d = s.get(RemoteSession, denied.id)
        a = s.get(RemoteSession, aborted.id)
        assert d is not None and a is not None
        assert (d.ended_by, d.end_reason) == ("user", "denied")
        assert d.resolution_note == "Printer driver reinstalled"
        assert (a.ended_by, a.end_reason) == ("system", "sas_commitment_mismatch")
        rejected = s.scalars(select(AuditEvent).where(AuditEvent.action == "session.code_rejected")).one()
        assert rejected.address == "192.0.2.9" and rejected.details == {"reason": "unknown"}
        assert "session.sas_mismatch" in _actions(s, aborted.id)
        assert _actions(s, denied.id)[-2:] == ["session.denied", "session.note"]
        dumped = json.dumps([e.details for e in s.scalars(select(AuditEvent))])
        assert str(denied.code) not in dumped


def test_a_code_is_redeemed_once_under_concurrency(world: World) -> None:
    session = _create(world)
    code = session.code
    assert code is not None

    def attempt(_: int) -> str:
        with world.db.session() as s:
            outcome = redeem.redeem_code(s, code, address="192.0.2.1")
            return "joined" if isinstance(outcome, RemoteSession) else outcome

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = sorted(pool.map(attempt, range(6)))
    assert outcomes == ["joined"] + ["used"] * 5
    with world.db.session() as s:
        assert _actions(s, session.id).count("session.joined") == 1
