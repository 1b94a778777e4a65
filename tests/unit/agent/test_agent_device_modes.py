"""Sessions on a managed device (issue 17): the agent acts on a device policy only when the
device's own service started it, never on the server's word alone.

``device_mode.decide`` is checked as a table; the session is run over a stand-in signaling
channel (WebRTC left out: ``_negotiate`` does nothing, a stand-in connection is put in place of the
first one) to see what the agent actually sends: a personal agent joined by a typed code still
shows the dialog whatever ``joined.device`` says; a device session the server does not confirm is
refused and ended; notify/unattended consent by themselves and hand over the resume key without
the technician's "Codes match"; ask waits for Allow.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veo.agent.device_mode import DEVICE_REFUSED, DeviceContext, decide
from veo.agent.endings import Kind, ended_by_text, ending, kind
from veo.agent.events import SessionEnded, ShowConsent, Started
from veo.agent.policy import Policy
from veo.agent.resuming import PeerLink
from veo.agent.session import AgentSession, SessionDeps
from veo.agent.signaling import ChannelClosed
from veo.i18n import gettext_for
from veo.protocol.device import DevicePolicy, DeviceSession, LaunchSpec
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Joined
from veo.tasks import spawn

ALL = [Permission.VIEW, Permission.CONTROL, Permission.CLIPBOARD]


def joined(policy: DevicePolicy | None, session_id: str = "s1") -> Joined:
    device = DeviceSession(device_name="pc-7", policy=policy, reason="Printer jams") if policy else None
    return Joined(
        session_id=session_id,
        organization="ACME IT",
        technician_name="Ana",
        ticket_id=7,
        ticket_title="pc-7: Printer jams",
        requested=ALL,
        resume_token="tok",
        resume_grace_seconds=120,
        device=device,
    )


def context(policy: DevicePolicy, session_id: str = "s1") -> DeviceContext:
    return DeviceContext(
        policy=policy,
        reason="Printer jams",
        technician="Ana",
        organization="ACME IT",
        device_name="pc-7",
        session_id=session_id,
    )


# ---------------------------------------------------------------- the decision


@pytest.mark.parametrize("said", [None, "ask", "notify", "unattended"])
def test_a_personal_agent_ignores_what_the_server_says_about_devices(said: DevicePolicy | None) -> None:
    assert decide(None, joined(said)) == "personal"


@pytest.mark.parametrize(
    ("accepted", "said", "mode"),
    [
        ("ask", "ask", "ask"),
        ("notify", "notify", "automatic"),
        ("unattended", "unattended", "automatic"),
        ("ask", None, "refused"),
        ("notify", None, "refused"),
        ("ask", "notify", "refused"),  # the server cannot raise the mode the service accepted
        ("notify", "unattended", "refused"),
        ("unattended", "ask", "refused"),  # nor lower it: the two disagree about what this is
    ],
)
def test_a_device_session_goes_as_the_service_accepted_and_the_server_confirms(
    accepted: DevicePolicy, said: DevicePolicy | None, mode: str
) -> None:
    assert decide(context(accepted), joined(said)) == mode


def test_a_device_session_joined_to_another_session_is_refused() -> None:
    assert decide(context("notify", "s1"), joined("notify", "s2")) == "refused"
    assert decide(context("notify", ""), joined("notify", "s2")) == "automatic"  # not checked


def test_the_context_is_the_launch_spec() -> None:
    spec = LaunchSpec(
        server="https://support.example",
        code="123456789",
        secret="c3" * 32,
        session_id="s1",
        policy="unattended",
        reason="Disk full",
        technician_name="Ana",
        organization="ACME IT",
        device_name="kiosk-3",
    )
    assert DeviceContext.from_spec(spec) == DeviceContext(
        policy="unattended",
        reason="Disk full",
        technician="Ana",
        organization="ACME IT",
        device_name="kiosk-3",
        session_id="s1",
        secret="c3" * 32,
    )
    assert "c3" * 32 not in repr(DeviceContext.from_spec(spec))  # never in a log line


# ---------------------------------------------------------------- the policy


def test_a_device_policy_does_not_wait_for_the_technicians_codes_match() -> None:
    policy = Policy(device=True)
    assert policy.waiting_for() == ["consent"]
    assert policy.refusal_for("control") == "not_consented", "consent is still needed"
    policy.grant(ALL, ALL)
    assert policy.waiting_for() == []
    assert policy.control_active
    assert policy.allows("clipboard")
    policy.paused = True
    assert policy.refusal_for("control") == "control_paused", "the user's pause still holds"


def test_a_personal_policy_still_waits_for_the_technicians_codes_match() -> None:
    policy = Policy()
    policy.grant(ALL, ALL)
    assert policy.waiting_for() == ["technician_sas"]
    assert policy.refusal_for("control") == "technician_not_confirmed"
    assert policy.refusal_for("clipboard") == "technician_not_confirmed"


def test_a_device_policy_still_waits_for_an_identity_the_role_requires() -> None:
    policy = Policy(device=True, identity_required=True)
    policy.grant(ALL, ALL)
    assert policy.waiting_for() == ["identity"]
    assert policy.refusal_for("control") == "identity_not_confirmed"


@given(
    granted=st.frozensets(st.sampled_from(list(Permission))),
    flags=st.fixed_dictionaries(
        {
            name: st.booleans()
            for name in (
                "consented",
                "sas_confirmed",
                "identity_required",
                "identity_confirmed",
                "paused",
                "question_open",
                "reconnecting",
            )
        }
    ),
    need=st.sampled_from(["nothing", "consent", "control", "view", "clipboard", "files"]),
)
def test_the_device_flag_only_stands_in_for_the_technicians_codes_match(
    granted: frozenset[Permission], flags: dict[str, bool], need: Any
) -> None:
    """A device session is exactly a personal one whose technician clicked "Codes match": nothing
    else (consent, the grant, identity, pause, a reconnection) is ever relaxed."""
    device = Policy(granted=granted, device=True, technician_sas_confirmed=False, **flags)
    confirmed = Policy(granted=granted, device=False, technician_sas_confirmed=True, **flags)
    assert device.refusal_for(need) == confirmed.refusal_for(need)
    assert device.waiting_for() == confirmed.waiting_for()
    assert device.control_active == confirmed.control_active


# ---------------------------------------------------------------- the session


class Channel:
    def __init__(self, *replies: Joined) -> None:
        self.sent: list[dict[str, Any]] = []
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        for reply in replies:
            self.inbox.put_nowait(reply.dumps())

    async def send(self, message: str) -> None:
        self.sent.append(json.loads(message))

    async def recv(self) -> str:
        item = await self.inbox.get()
        if item is None:
            raise ChannelClosed
        return item

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
    allowed = False

    def stop(self) -> None:
        return None

    def allow(self) -> None:
        self.allowed = True


class Running:
    """A session run up to ``joined`` over :class:`Channel`, with no WebRTC of its own."""

    def __init__(self, reply: Joined, device: DeviceContext | None) -> None:
        self.channel = Channel(reply)
        self.events: list[Any] = []
        deps = SessionDeps(
            capture_factory=lambda: None,  # type: ignore[arg-type,return-value]
            injector_factory=lambda: None,  # type: ignore[arg-type,return-value]
            post=self.events.append,
            record_history=False,
            device=device,
        )
        self.session = AgentSession(self.channel, "123456789", deps)  # type: ignore[arg-type]

        async def no_webrtc() -> None:
            return None

        self.session._negotiate = no_webrtc  # type: ignore[method-assign]
        self.dc = Dc()
        self.task: asyncio.Task[bool] | None = None

    async def join(self) -> None:
        self.task = spawn(self.session.run())
        for _ in range(50):
            await asyncio.sleep(0)
            if self.session.joined is not None and (self.kinds(ShowConsent) or self.kinds(SessionEnded)):
                return

    def first_connection(self) -> PeerLink:
        """The first connection, its code known and its data channel open (as ``_on_answer`` leaves it)."""
        link = PeerLink(
            pc=Pc(),
            track=Track(),
            transceiver=None,
            dc=self.dc,
            handshake=None,  # type: ignore[arg-type]
            resume=False,
            trusted=True,
        )
        link.carried = True
        self.session._link = link
        self.session.sas = "123456"
        return link

    def kinds(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def close(self) -> None:
        await self.session.end("system", "test_over")
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_a_typed_code_agent_shows_the_dialog_even_if_the_server_says_notify() -> None:
    run = Running(joined("notify"), device=None)
    try:
        await run.join()
        assert run.kinds(ShowConsent), "the user is asked as always"
        assert run.session.mode == "personal" and not run.session.policy.device
        link = run.first_connection()
        run.session._consent_automatically()  # what the code becoming known runs: nothing here
        await settle()
        assert not run.channel.of("consent") and not link.track.allowed, "no consent without Allow"
        run.session.allow(ALL)
        await settle()
        assert run.channel.of("consent")[0]["sas_confirmed"] is True
        assert not run.dc.of("resume_key"), "the key waits for the technician's Codes match"
        assert "technician_sas" in run.dc.of("control")[-1]["waiting_for"]
    finally:
        await run.close()


@pytest.mark.parametrize(("accepted", "said"), [("notify", "ask"), ("ask", "notify"), ("notify", None)])
@pytest.mark.asyncio
async def test_a_device_session_the_server_does_not_confirm_is_refused(
    accepted: DevicePolicy, said: DevicePolicy | None
) -> None:
    run = Running(joined(said), device=context(accepted))
    await run.join()
    assert run.task is not None
    assert await asyncio.wait_for(run.task, 5) is True
    assert not run.kinds(ShowConsent), "no dialog, no notice: nothing starts"
    assert run.channel.of("hangup") == [{"type": "hangup", "v": 1, "reason": DEVICE_REFUSED}]
    assert not run.channel.of("consent") and not run.channel.of("offer")
    assert run.kinds(SessionEnded) == [SessionEnded("system", DEVICE_REFUSED)]


@pytest.mark.parametrize("policy", ["notify", "unattended"])
@pytest.mark.asyncio
async def test_notify_and_unattended_start_by_themselves_and_hand_over_the_key(policy: DevicePolicy) -> None:
    run = Running(joined(policy), device=context(policy))
    try:
        await run.join()
        assert run.session.mode == "automatic" and run.session.policy.device
        assert not run.channel.of("consent"), "not before the console answered"
        link = run.first_connection()
        run.session._consent_automatically()  # what _on_answer does once the code is known
        await settle()
        assert run.channel.of("consent") == [
            {"type": "consent", "v": 1, "granted": ["view", "control", "clipboard"], "sas_confirmed": False}
        ]
        assert run.kinds(Started)[0].granted == tuple(ALL)
        assert link.track.allowed
        assert len(run.dc.of("resume_key")) == 1, "the key goes out right after consent"
        control = run.dc.of("control")[-1]
        assert control["active"] is True and control["waiting_for"] == []
        run.session._consent_automatically()  # a second answer changes nothing
        await settle()
        assert len(run.channel.of("consent")) == 1
    finally:
        await run.close()


@pytest.mark.asyncio
async def test_ask_waits_for_allow_then_needs_no_codes_match() -> None:
    run = Running(joined("ask"), device=context("ask"))
    try:
        await run.join()
        assert run.session.mode == "ask" and run.kinds(ShowConsent)
        link = run.first_connection()
        await settle()
        assert not run.channel.of("consent") and not link.track.allowed, "nothing starts without Allow"
        run.session.allow([Permission.VIEW, Permission.CONTROL])
        await settle()
        assert run.channel.of("consent")[0] == {
            "type": "consent",
            "v": 1,
            "granted": ["view", "control"],
            "sas_confirmed": False,
        }
        assert len(run.dc.of("resume_key")) == 1
        assert run.dc.of("control")[-1]["active"] is True
    finally:
        await run.close()


# ---------------------------------------------------------------- the endings


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("reason", ["device_unavailable", "device_unreachable", DEVICE_REFUSED])
def test_device_endings_are_worded(language: str, reason: str) -> None:
    _ = gettext_for(language).gettext
    assert kind("system", reason) is Kind.DEVICE
    said = ending(_, "system", reason, "ACME IT", started=False)
    assert said.headline and all(said.body)
    assert _("Nothing was shared.") in said.body
    assert reason not in " ".join((said.headline, *said.body)), "people read sentences, never codes"
    assert ended_by_text(_, "system", reason, "Ctrl+Alt+Shift+End")
