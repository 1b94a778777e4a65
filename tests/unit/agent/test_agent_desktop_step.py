"""The desktop step (agent/desktop_step.py) inside a session, with a fake Desktop.

veo's Allow opens the desktop (on Wayland its own sharing dialog); only what the desktop grants
is consented to: control removed before ``consent`` when the desktop has none or the user left it
off there, both sides told why (``desktop`` data message, the bar's limits); a cancel in the
desktop's window is the user's refusal; the desktop is closed at the end.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from veo.agent.backend import Backend, BackendError, reason_text
from veo.agent.capture.base import Region, ScreenCapture, Size
from veo.agent.capture.monitors import Layout
from veo.agent.desktop import Desktop, DesktopGrant, DesktopMonitors, StreamInfo
from veo.agent.endings import Kind, ended_by_text, ending
from veo.agent.events import DesktopAsking, SessionEnded, Started
from veo.agent.input.base import InputInjector
from veo.agent.resuming import Grace, PeerLink
from veo.agent.session import AgentSession, SessionDeps
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Joined

ALL = [Permission.VIEW, Permission.CONTROL]
STREAM = StreamInfo(node_id=42, x=0, y=0, width=1280, height=720)


class FakeDesktop(Desktop):
    """Answers ``open`` as the desktop's dialog would: with ``grant``, or the ``error``; ``hold``
    keeps the dialog open until released."""

    def __init__(
        self,
        grant: DesktopGrant | None = None,
        error: BackendError | None = None,
        backend: Backend = "portal",
    ) -> None:
        self.backend = backend
        self._grant = grant or DesktopGrant(backend=backend, streams=(STREAM,))
        self._error = error
        self.hold = asyncio.Event()
        self.hold.set()
        self.opened_with: list[bool] = []
        self.closed = 0
        self.captures = 0

    async def open(self, want_control: bool) -> DesktopGrant:
        self.opened_with.append(want_control)
        await self.hold.wait()
        if self._error is not None:
            raise self._error
        return self._grant

    def capture(self) -> ScreenCapture:
        self.captures += 1
        raise AssertionError("the track is a stand-in here")

    def injector(self) -> InputInjector:
        raise AssertionError("no input in these tests")

    def monitors(self) -> DesktopMonitors:
        return OneMonitor()

    async def close(self) -> None:
        self.closed += 1


class OneMonitor(DesktopMonitors):
    def layout(self) -> Layout:
        return Layout(Region(0, 0, 1280, 720), ())

    def close(self) -> None:
        return None


class Channel:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: str) -> None:
        self.sent.append(json.loads(message))

    async def recv(self) -> str:
        await asyncio.Event().wait()
        raise AssertionError

    async def close(self) -> None:
        return None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == kind]


class Dc:
    readyState = "open"

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: str) -> None:
        self.sent.append(json.loads(message))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == kind]


class Pc:
    async def close(self) -> None:
        return None


class Track:
    def __init__(self) -> None:
        self.allowed = False
        self.measured = 0

    def stop(self) -> None:
        return None

    def allow(self) -> None:
        self.allowed = True

    async def size(self) -> Size:
        self.measured += 1
        return Size(1280, 720)


class Harness:
    """A session past the code comparison (SAS shown), on a stand-in connection that is open."""

    def __init__(self, desktop: Desktop | None, requested: list[Permission] = ALL) -> None:
        self.channel = Channel()
        self.events: list[Any] = []
        deps = SessionDeps(
            capture_factory=lambda: None,  # type: ignore[arg-type,return-value]
            injector_factory=lambda: None,  # type: ignore[arg-type,return-value]
            post=self.events.append,
            record_history=False,
            desktop=desktop,
        )
        self.session = AgentSession(self.channel, "123456789", deps)  # type: ignore[arg-type]
        self.session._joined = Joined(
            session_id="s1",
            organization="ACME IT",
            technician_name="Ana",
            ticket_id=1,
            ticket_title="t",
            requested=requested,
            resume_token="tok",
            resume_grace_seconds=120,
        )
        self.session._grace = Grace(120)
        self.session.sas = "123456"
        self.track = Track()
        self.dc = Dc()
        self.link = self.new_link(resume=False)

    def new_link(self, resume: bool) -> PeerLink:
        link = PeerLink(
            pc=Pc(),
            track=self.track,
            transceiver=None,
            dc=self.dc,
            handshake=None,  # type: ignore[arg-type]
            resume=resume,
            trusted=True,
            verified_by="proof" if resume else None,
        )
        link.carried = True
        self.session._link = link
        return link

    def started(self) -> list[Started]:
        return [e for e in self.events if isinstance(e, Started)]

    async def close(self) -> None:
        await self.session.end("system", "test_over")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_consent_waits_for_the_desktop_and_then_carries_control() -> None:
    desktop = FakeDesktop()
    desktop.hold.clear()  # the desktop's own dialog is open
    h = Harness(desktop)
    try:
        h.session.allow(ALL)
        await settle()
        assert desktop.opened_with == [True], "control was ticked: the desktop is asked for input too"
        assert [e for e in h.events if isinstance(e, DesktopAsking)], "veo's dialog steps aside"
        assert not h.channel.of("consent") and not h.session.policy.consented, "consent before the desktop's"
        assert not h.track.allowed
        h.session.allow(ALL)  # a second Allow while the desktop asks changes nothing
        desktop.hold.set()
        await settle()
        assert desktop.opened_with == [True]
        assert h.channel.of("consent") == [
            {"type": "consent", "v": 1, "granted": ["view", "control"], "sas_confirmed": True}
        ]
        assert h.track.allowed
        assert h.dc.of("desktop") == [
            {"type": "desktop", "v": 1, "backend": "portal", "control": True, "limits": []}
        ]
        assert h.started()[0].granted == (Permission.VIEW, Permission.CONTROL)
        assert h.started()[0].limits == ()
    finally:
        await h.close()
    assert desktop.closed == 1, "the desktop is given back at the end"


@pytest.mark.asyncio
async def test_control_left_off_in_the_desktops_window_is_not_consented() -> None:
    grant = DesktopGrant(backend="portal", control=False, control_reason="control_refused", streams=(STREAM,))
    h = Harness(FakeDesktop(grant))
    try:
        h.session.allow(ALL)
        await settle()
        assert h.channel.of("consent")[0]["granted"] == ["view"], "the server must record the truth"
        assert not h.session.policy.control_granted
        control = h.dc.of("control")[-1]
        assert control["granted"] == ["view"] and control["active"] is False
        assert h.dc.of("desktop") == [
            {"type": "desktop", "v": 1, "backend": "portal", "control": False, "limits": ["control_refused"]}
        ]
        assert h.started()[0].granted == (Permission.VIEW,)
        assert h.started()[0].limits == ("control_refused",), "the user's bar says why"
        # the console's input is dropped as ungranted, whatever it sends
        verdict = h.session.policy.judge(json.dumps({"type": "pointer_move", "v": 1, "x": 1, "y": 1}))
        assert verdict.reason == "control_not_granted"
        # a question for control mid-session cannot add what the desktop does not allow
        assert h.session.extend_grant([Permission.CONTROL], [Permission.CONTROL]) == frozenset()
        assert not h.session.policy.control_granted
    finally:
        await h.close()


@pytest.mark.asyncio
async def test_view_only_desktop_limits_go_to_both_sides() -> None:
    grant = DesktopGrant(
        backend="portal",
        control=False,
        control_reason="no_remote_desktop",
        streams=(STREAM,),
        pointer_in_picture=True,
        limits=("no_stop_key",),
    )
    h = Harness(FakeDesktop(grant))
    h.session.desktop.add_limit("no_overlay")  # found by the overlay's chooser
    try:
        h.session.allow(ALL)
        await settle()
        assert h.dc.of("desktop")[0]["limits"] == [
            "no_remote_desktop",
            "no_stop_key",
            "no_overlay",
            "pointer_in_picture",
        ]
        assert h.started()[0].limits == ("no_remote_desktop", "no_stop_key", "no_overlay")
        assert h.channel.of("consent")[0]["granted"] == ["view"]
    finally:
        await h.close()


@pytest.mark.asyncio
async def test_control_unticked_in_veo_is_not_asked_of_the_desktop_nor_said_as_refused() -> None:
    grant = DesktopGrant(backend="portal", control=False, control_reason="control_refused", streams=(STREAM,))
    desktop = FakeDesktop(grant)
    h = Harness(desktop)
    try:
        h.session.allow([Permission.VIEW])
        await settle()
        assert desktop.opened_with == [False]
        assert h.dc.of("desktop")[0]["limits"] == [], "the user never asked for control: nothing refused"
        assert h.started()[0].limits == ()
    finally:
        await h.close()


@pytest.mark.asyncio
async def test_cancel_in_the_desktops_window_is_the_users_refusal() -> None:
    desktop = FakeDesktop(error=BackendError("portal_cancelled"))
    h = Harness(desktop)
    h.session.allow(ALL)
    await asyncio.wait_for(h.session._done.wait(), 5)
    assert h.channel.of("deny") == [{"type": "deny", "v": 1}]
    assert not h.channel.of("consent") and not h.track.allowed and not h.dc.of("desktop")
    assert (h.session.end_by, h.session.end_reason) == ("user", "portal_cancelled")
    assert [e for e in h.events if isinstance(e, SessionEnded)] == [SessionEnded("user", "portal_cancelled")]
    assert desktop.closed == 1


@pytest.mark.asyncio
async def test_a_failing_desktop_ends_the_session_with_its_reason() -> None:
    h = Harness(FakeDesktop(error=BackendError("no_gstreamer", "pipewiresrc missing")))
    h.session.allow(ALL)
    await asyncio.wait_for(h.session._done.wait(), 5)
    assert h.channel.of("hangup") == [{"type": "hangup", "v": 1, "reason": "no_gstreamer"}]
    assert not h.channel.of("consent")
    assert (h.session.end_by, h.session.end_reason) == ("system", "no_gstreamer")


@pytest.mark.asyncio
async def test_ending_while_the_desktop_asks_closes_it_and_consents_nothing() -> None:
    desktop = FakeDesktop()
    desktop.hold.clear()
    h = Harness(desktop)
    h.session.allow(ALL)
    await settle()
    await h.session.end("technician", "hangup")
    desktop.hold.set()
    await settle()
    assert desktop.closed == 1
    assert not h.channel.of("consent") and not h.track.allowed


@pytest.mark.asyncio
async def test_portal_screen_is_not_measured_before_the_desktop_granted() -> None:
    """On the portal nothing exists to capture before its dialog; X11 measures as before."""
    desktop = FakeDesktop()
    desktop.hold.clear()
    h = Harness(desktop)
    h.link.carried = False
    try:
        h.session._maybe_carry(h.link)
        await settle()
        assert h.track.measured == 0 and not h.dc.of("screen")
        h.session.allow(ALL)
        desktop.hold.set()
        await settle()
        assert h.track.measured == 1 and h.dc.of("screen")
        assert len(h.dc.of("desktop")) == 1, "said once on this connection (consent, then take-up)"
    finally:
        await h.close()
    x11 = Harness(FakeDesktop(backend="x11"))
    x11.link.carried = False
    try:
        x11.session._maybe_carry(x11.link)
        await settle()
        assert x11.track.measured == 1, "X11 needs no dialog to measure the screen"
        assert not x11.dc.of("desktop"), "nothing about the desktop before consent"
    finally:
        await x11.close()


@pytest.mark.asyncio
async def test_desktop_message_again_on_a_resumed_connection() -> None:
    grant = DesktopGrant(
        backend="portal", control=False, control_reason="no_remote_desktop", streams=(STREAM,)
    )
    h = Harness(FakeDesktop(grant))
    try:
        h.session.allow(ALL)
        await settle()
        assert len(h.dc.of("desktop")) == 1
        h.session.policy.reconnecting = True  # the connection was lost; a new one proved itself
        link = h.new_link(resume=True)
        link.carried = False
        h.session._maybe_carry(link)
        await settle()
        assert len(h.dc.of("desktop")) == 2, "the console of the new connection hears it too"
        assert h.dc.of("desktop")[1]["limits"] == ["no_remote_desktop"]
    finally:
        await h.close()


@pytest.mark.asyncio
async def test_the_pointer_feature_hears_the_grant_before_consent() -> None:
    """app.py stops the AgentCursor (pointer as data) where the pointer is in the picture."""
    grant = DesktopGrant(backend="portal", streams=(STREAM,), pointer_in_picture=True)
    h = Harness(FakeDesktop(grant))
    seen: list[tuple[bool, bool]] = []
    h.session.desktop.on_open(lambda g: seen.append((g.pointer_in_picture, h.session.policy.consented)))
    try:
        h.session.allow(ALL)
        await settle()
        assert seen == [(True, False)]
    finally:
        await h.close()


def test_the_users_ending_says_the_desktops_sentence() -> None:
    def _(text: str) -> str:
        return text

    said = ending(_, "user", "portal_cancelled", "ACME IT", started=False)
    assert said.kind is Kind.DESKTOP
    assert said.headline == "You said no to the request."
    assert said.body[0] == reason_text("portal_cancelled", _)
    failed = ending(_, "system", "no_gstreamer", "ACME IT", started=False)
    assert failed.body[0] == reason_text("no_gstreamer", _)
    assert "traceback" not in " ".join(failed.body).lower()
    assert ended_by_text(_, "user", "portal_cancelled", "") == "you (you said no to the request)"


class StoppableDesktop(FakeDesktop):
    """Like PortalDesktop: the desktop can end the sharing itself (its own Stop button)."""

    on_closed: Any = None


@pytest.mark.asyncio
async def test_the_desktops_own_stop_ends_the_session_as_the_users() -> None:
    desktop = StoppableDesktop()
    h = Harness(desktop)
    h.session.desktop.on_stopped(lambda: h.session.stop("user_stopped"))
    h.session.allow(ALL)
    await settle()
    assert h.session.policy.consented
    assert desktop.on_closed is not None
    desktop.on_closed()  # GNOME's "Stop sharing"
    await asyncio.wait_for(h.session._done.wait(), 5)
    assert (h.session.end_by, h.session.end_reason) == ("user", "user_stopped")
    assert h.channel.of("hangup") == [{"type": "hangup", "v": 1, "reason": "user_stopped"}]
    assert desktop.closed == 1
    plain = Harness(FakeDesktop())
    plain.session.desktop.on_stopped(lambda: None)  # a desktop without its own stop: nothing to wire
    await plain.close()


@pytest.mark.asyncio
async def test_on_x11_control_unticked_in_veos_dialog_can_still_be_asked_for_later() -> None:
    """X11 limits nothing: control the user left unticked in veo's dialog is their own "no", which
    a mid-session question may still turn into a yes (design §3), and the console is not told
    that the desktop forbids control (it would hide *Ask for control* and blame the desktop)."""
    from veo.agent.x11_desktop import X11Desktop

    h = Harness(X11Desktop())
    try:
        h.session.allow([Permission.VIEW])
        await settle()
        assert h.channel.of("consent")[0]["granted"] == ["view"]
        assert h.dc.of("desktop") == [
            {"type": "desktop", "v": 1, "backend": "x11", "control": True, "limits": []}
        ]
        assert h.session.extend_grant([Permission.CONTROL], [Permission.CONTROL]) == {Permission.CONTROL}
        assert h.session.policy.control_granted
    finally:
        await h.close()
