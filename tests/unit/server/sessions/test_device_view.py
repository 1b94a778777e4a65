"""A session on a managed device tells the agent (``joined``) and the console (``session_state``)
the device's name, the policy that applied and the reason; a typed-code session tells nothing."""

from __future__ import annotations

from pathlib import Path

from veo.config import Settings
from veo.protocol.device import DeviceSession
from veo.server.db.base import utcnow
from veo.server.devices.models import Device, DeviceGroup
from veo.server.sessions.device_view import device_session
from veo.server.sessions.join import joined_message
from veo.server.sessions.models import RemoteSession

from .conftest import World

DEVICE_ID = "ab" * 16


def _session(world: World, **device: object) -> str:
    with world.db.session() as s:
        group = DeviceGroup(name="Reception", policy="notify", roles=["technician"])
        s.add(group)
        s.flush()
        s.add(Device(id=DEVICE_ID, group_id=group.id, name="Reception PC 2", public_key="k" * 43))
        row = RemoteSession(
            id="s-dev",
            ticket_id=world.ticket.id,
            technician_id=world.tech.id,
            requested_permissions=["view", "control"],
            code_expires_at=utcnow(),
            **device,
        )
        s.add(row)
    return "s-dev"


def test_joined_and_state_name_the_device_policy_and_reason(world: World, tmp_path: Path) -> None:
    session_id = _session(
        world, device_id=DEVICE_ID, device_policy="notify", access_reason="Printer queue stuck"
    )
    expected = DeviceSession(device_name="Reception PC 2", policy="notify", reason="Printer queue stuck")
    with world.db.session() as s:
        session = s.get(RemoteSession, session_id)
        assert session is not None
        assert device_session(s, session) == expected
        # joined_message finds the device through the session's own database session
        assert joined_message(Settings(data_dir=tmp_path), session).device == expected


def test_a_typed_code_session_has_no_device(world: World, tmp_path: Path) -> None:
    session_id = _session(world)
    with world.db.session() as s:
        session = s.get(RemoteSession, session_id)
        assert session is not None
        assert device_session(s, session) is None
        assert joined_message(Settings(data_dir=tmp_path), session).device is None


def test_an_unknown_policy_is_no_device_session(world: World) -> None:
    """Only the contract's policies count: a stray value never makes the agent act as a device."""
    session_id = _session(world, device_id=DEVICE_ID, device_policy="always", access_reason="x")
    with world.db.session() as s:
        session = s.get(RemoteSession, session_id)
        assert session is not None
        assert device_session(s, session) is None


def test_a_long_reason_is_cut_to_the_contract(world: World) -> None:
    session_id = _session(world, device_id=DEVICE_ID, device_policy="ask", access_reason="r" * 900)
    with world.db.session() as s:
        session = s.get(RemoteSession, session_id)
        assert session is not None
        found = device_session(s, session)
        assert found is not None and len(found.reason) == 500 and found.policy == "ask"


def test_a_stored_reason_with_control_characters_is_cleaned_not_refused() -> None:
    """A row written before the protocol's rule must not make its ``joined`` fail to build."""
    from veo.server.sessions.device_view import device_session
    from veo.server.sessions.models import RemoteSession

    row = RemoteSession(
        id="s", device_id="ab" * 16, device_policy="notify", access_reason="printer\x00\x9b jam"
    )
    view = device_session(None, row)
    assert view is not None and view.reason == "printer jam" and view.device_name == "ab" * 16
