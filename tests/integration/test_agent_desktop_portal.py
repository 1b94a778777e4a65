"""The session's desktop step with the real PortalDesktop, against the fake portal on a private bus.

``tests/integration/test_portal_fake.py`` holds the fake xdg-desktop-portal (a dbus-fast service
on a private ``dbus-daemon``); here the agent's session opens it after the user's Allow, as the
agent does on Wayland, and what the desktop's dialog answered (all, remote control left off, a
desktop without RemoteDesktop, Cancel) is what the server and the console are told.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.integration.test_portal_fake import Script, portal, private_bus  # noqa: F401  (fixtures)
from tests.unit.agent.test_agent_desktop_step import ALL, Harness, settle

from veo.agent.portal.desktop import PortalDesktop

pytestmark = pytest.mark.timeout(60)


async def allowed(address: str, **script: Any) -> Harness:
    """A session whose user pressed Allow with everything ticked, on the portal (``script``)."""
    h = Harness(PortalDesktop(address, check_gstreamer=False))
    h.session.allow(ALL)
    for _ in range(200):  # the portal's request/response round trips on a real bus
        if h.channel.sent or h.session._ended:
            break
        await settle()
        await asyncio.sleep(0.01)
    return h


@pytest.mark.parametrize(
    ("changes", "granted", "control", "limits"),
    [
        ({}, ["view", "control"], True, ["pointer_in_picture"]),
        ({"devices": 0}, ["view"], False, ["control_refused", "pointer_in_picture"]),
        ({"remote_desktop": False}, ["view"], False, ["no_remote_desktop", "pointer_in_picture"]),
    ],
    ids=["all", "switch-left-off", "screencast-only"],
)
async def test_what_the_desktop_granted_is_what_is_consented(
    portal: tuple[str, Script],  # noqa: F811
    changes: dict[str, Any],
    granted: list[str],
    control: bool,
    limits: list[str],
) -> None:
    address, script = portal
    await script.start(**changes)  # type: ignore[attr-defined]
    h = await allowed(address)
    try:
        assert h.channel.of("consent") == [
            {"type": "consent", "v": 1, "granted": granted, "sas_confirmed": True}
        ]
        assert h.dc.of("desktop") == [
            {"type": "desktop", "v": 1, "backend": "portal", "control": control, "limits": limits}
        ]
        assert h.session.policy.control_granted is control
        assert h.track.allowed
        assert len(script.named("OpenPipeWireRemote")) == 1
    finally:
        await h.close()
    assert len(script.closed) == 1, "the portal session is closed at the end of veo's session"


async def test_cancel_in_the_desktops_dialog_is_the_users_refusal(portal: tuple[str, Script]) -> None:  # noqa: F811
    address, script = portal
    await script.start(start_code=1)  # type: ignore[attr-defined]
    h = await allowed(address)
    await asyncio.wait_for(h.session._done.wait(), 10)
    assert h.channel.of("deny") == [{"type": "deny", "v": 1}] and not h.channel.of("consent")
    assert (h.session.end_by, h.session.end_reason) == ("user", "portal_cancelled")
    assert not h.track.allowed and not script.named("OpenPipeWireRemote")
