"""Policy limits, the technician's confirmations and declared mismatches, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from veo.protocol.permissions import Permission
from veo.server.audit.models import AuditEvent
from veo.server.policies.service import RolePolicy
from veo.server.sessions import service
from veo.server.sessions.models import RemoteSession

from .conftest import World


def _policy(*permissions: Permission, identity: bool = False) -> RolePolicy:
    return RolePolicy(
        role="technician",
        max_permissions=frozenset(permissions),
        totp_required=False,
        identity_before_control=identity,
        unattended=False,
        recording=False,
    )


def test_within_policy_refuses_explicit_excess_and_trims_the_default() -> None:
    view_only = _policy(Permission.VIEW)
    assert service.within_policy(view_only, ["view"]) == [Permission.VIEW]
    assert service.within_policy(view_only, None) == [Permission.VIEW]  # default view+control, trimmed
    with pytest.raises(service.SessionError) as info:
        service.within_policy(view_only, ["view", "control", "files"])
    assert (info.value.code, info.value.detail) == ("beyond_policy", "control, files")
    with pytest.raises(service.SessionError) as info:
        service.within_policy(_policy(), None)  # a role that may request nothing at all
    assert info.value.code == "beyond_policy"
    everything = _policy(*Permission)
    assert service.within_policy(everything, ["files", "view"]) == [Permission.VIEW, Permission.FILES]


def _live(w: World) -> str:
    with w.db.session() as s:
        session = service.create_session(
            s, ticket_id=w.ticket.id, technician=w.tech, permissions=None, ttl_seconds=600
        )
        session.status = "connecting"
        return session.id


def test_technician_confirmations_are_recorded_once_and_tell_the_agent(world: World) -> None:
    session_id = _live(world)
    with world.db.session() as s:
        session = service.record_technician_sas(s, session_id, actor="tech@example.org")
        confirmation = service.technician_confirmation(session)
        assert confirmation.sas_confirmed and not confirmation.identity_confirmed
        service.record_technician_sas(s, session_id, actor="tech@example.org")  # repeated click
        service.record_identity(s, session_id, method="not_verified", actor="tech@example.org")
        assert not service.technician_confirmation(s.get(RemoteSession, session_id)).identity_confirmed
        service.record_identity(s, session_id, method="managed_device", actor="tech@example.org")
        assert service.technician_confirmation(s.get(RemoteSession, session_id)).identity_confirmed
    with world.db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.session_id == session_id))]
    assert actions.count("session.sas_confirmed_by_technician") == 1
    assert actions.count("session.identity_confirmed") == 2


def test_codes_match_is_refused_before_negotiation_and_after_the_end(world: World) -> None:
    with world.db.session() as s:
        waiting = service.create_session(
            s, ticket_id=world.ticket.id, technician=world.tech, permissions=None, ttl_seconds=600
        )
        waiting_id = waiting.id
    with world.db.session() as s, pytest.raises(service.SessionError) as info:
        service.record_technician_sas(s, waiting_id, actor="tech@example.org")
    assert info.value.code == "out_of_order"
    with world.db.session() as s:
        assert service.end_session(s, waiting_id, by="technician", reason="x", actor="t")
    with world.db.session() as s, pytest.raises(service.SessionError) as info:
        service.record_identity(s, waiting_id, method="email_link", actor="tech@example.org")
    assert info.value.code == "session_ended"


@pytest.mark.parametrize(
    ("reported", "declared_by", "reason"),
    [
        ("sas_mismatch", "user", "sas_mismatch_user"),
        ("sas_mismatch", "technician", "sas_mismatch"),
        ("sas_commitment_mismatch", "technician", "sas_commitment_mismatch"),
    ],
)
def test_a_declared_mismatch_ends_once_with_who_said_it(
    world: World, reported: str, declared_by: str, reason: str
) -> None:
    session_id = _live(world)
    with world.db.session() as s:
        got = service.record_sas_mismatch(
            s,
            session_id,
            reason=reported,
            actor="x",
            declared_by=declared_by,  # type: ignore[arg-type]
        )
        assert got == reason
        again = service.record_sas_mismatch(s, session_id, reason=reported, actor="x")
        assert again is None
        row = s.get(RemoteSession, session_id)
        assert row is not None and (row.status, row.ended_by, row.end_reason) == ("ended", "system", reason)
