"""One support session on the agent: join, consent, WebRTC as offerer, SAS, control, end.

Runs entirely on the agent's event loop (a worker thread); the windows talk to it only through
``loop.call_soon_threadsafe`` (:meth:`AgentSession.allow`, ``deny``, ``stop``, ``set_paused``)
and it talks to them only through the ``post`` callback (a thread-safe queue).

Order of a session, and why:

1. ``join`` -> ``joined`` (or ``error``): the consent dialog opens at once, and WebRTC starts
   in parallel so the SAS is ready by the time the user has read the dialog.
2. The agent offers (video ``sendonly``, H.264 first, data channel ``veo``) with a commitment
   to ``nA``; on the answer it reveals ``nA`` and derives the SAS for the dialog. An answer that
   rejects the video line (the browser plays none of the offered codecs) ends the session with
   ``codec_unsupported*`` (``encoder.video_refused``), which both sides put in a sentence.
3. ICE/DTLS may connect before consent, but the track sends nothing and every input message is
   dropped until the user pressed Allow (with the SAS shown, Allow is the user's "same code"
   confirmation). Control additionally waits for the technician's "Codes match" (and a confirmed
   identity when the role's policy asks for it), which the server relays as
   ``technician_confirmed``. If the user says the codes differ, the agent aborts
   (``sas_mismatch``): suspected interception, the session ends for both sides.
4. Any end (user, technician, server, network) runs :meth:`AgentSession.end` exactly once:
   capture stopped, keys released, peer connection closed, grant forgotten, user told.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from veo import __version__
from veo.agent import encoder, history, low_latency
from veo.agent.capture.base import CaptureError, ScreenCapture
from veo.agent.events import (
    ControlChanged,
    JoinFailed,
    SasKnown,
    SessionEnded,
    ShowConsent,
    Started,
    UiEvent,
)
from veo.agent.handshake import SasHandshake
from veo.agent.input.base import InputInjector
from veo.agent.input_worker import InputWorker
from veo.agent.monitors import MonitorSwitch
from veo.agent.policy import DropNotices, Policy
from veo.agent.signaling import ChannelClosed, SignalingChannel
from veo.agent.stream import ScreenTrack
from veo.i18n import gettext_for
from veo.protocol import sas as sas_mod
from veo.protocol.base import ProtocolError
from veo.protocol.datachannel import (
    DATA_CHANNEL_LABEL,
    INPUT_TYPES,
    AgentDataMessage,
    Control,
    Dropped,
    InputMessage,
    Need,
)
from veo.protocol.permissions import Permission, ordered
from veo.protocol.refusals import refusal_text
from veo.protocol.signaling import (
    Abort,
    AgentMessage,
    Answer,
    Consent,
    ControlState,
    Deny,
    Ended,
    Error,
    Hangup,
    IceServer,
    IceTransportPolicy,
    Join,
    Joined,
    Offer,
    Reveal,
    ServerMessage,
    TechnicianConfirmed,
    parse_server_message,
)
from veo.tasks import spawn

log = logging.getLogger(__name__)

#: codec order of the offer by default: H.264 (cheap with libx264, decoded in hardware by browsers), VP8
#: fallback; ``veo agent --codec`` may narrow it (``encoder.codec_order``)
CODEC_ORDER = encoder.codec_order("auto")


def ice_configuration(servers: Iterable[IceServer], policy: IceTransportPolicy = "all") -> RTCConfiguration:
    """Only the ICE servers the veo server handed out: never aiortc's default public STUN.

    ``policy`` is the operator's ``VEO_ICE_TRANSPORT_POLICY`` as the server sent it; aiortc wants
    the enum (the string ``"relay"`` raises deep inside ``RTCIceGatherer``), and uses only the
    first STUN and the first TURN URL, which is why the server sends the agent one of each.
    """
    return RTCConfiguration(
        iceServers=[RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in servers],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY if policy == "relay" else RTCIceTransportPolicy.ALL,
    )


def prefer_codecs(transceiver: Any) -> None:
    """H.264 first, VP8 second, or the one ``--codec`` chose (plus retransmission); before createOffer."""
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    chosen = [c for mime in encoder.codec_order() for c in capabilities if c.mimeType == mime]
    chosen += [c for c in capabilities if c.mimeType == "video/rtx"]
    transceiver.setCodecPreferences(chosen)


def local_sha256_fingerprint(transceiver: Any, local_sdp: str) -> str:
    """The sha-256 fingerprint of the certificate our DTLS transport actually uses."""
    for fingerprint in transceiver.sender.transport.getLocalParameters().fingerprints:
        if fingerprint.algorithm == "sha-256":
            return str(fingerprint.value).upper()
    return sas_mod.sha256_fingerprint(local_sdp)


def _parse_from_server(raw: str | bytes) -> ServerMessage | None:
    """A server message, or ``None`` (logged) for anything that is not one.

    A hostile or broken server must not end the agent's receive loop: a refused message is
    skipped whatever went wrong, not only the :class:`ProtocolError` the parser promises.
    """
    try:
        return parse_server_message(raw)
    except ProtocolError as exc:
        log.warning("ignored a malformed message from the server (%s): %s", exc.code, exc.message)
    except Exception:
        log.exception("ignored a message from the server that could not be read")
    return None


def join_error_text(language: str, error: Error | None) -> str:
    """What the code window says when the server refused the join: its specific reason, in words.

    ``None``: the server closed the connection without a reason.
    """
    catalog = gettext_for(language)
    if error is None:
        return catalog.gettext("The support server closed the connection. Please try again.")
    return refusal_text(catalog, error.code, error.retry_after)


@dataclass
class SessionDeps:
    """What a session needs from the outside world (real backends in the app, pipes in tests)."""

    capture_factory: Callable[[], ScreenCapture]
    injector_factory: Callable[[], InputInjector]
    post: Callable[[UiEvent], None]
    language: str = "en"
    server: str = ""
    fps: float | None = None  # the rate cap; None: ``veo agent --max-fps`` or by picture size
    record_history: bool = True
    platform_name: str = field(default_factory=lambda: platform.platform(terse=True)[:60])


class AgentSession:
    def __init__(self, channel: SignalingChannel, code: str, deps: SessionDeps) -> None:
        self._channel = channel
        self._code = code
        self._deps = deps
        self.policy = Policy()
        self._notices = DropNotices()
        self._joined: Joined | None = None
        self._handshake: SasHandshake | None = None
        self._pc: RTCPeerConnection | None = None
        self._track: ScreenTrack | None = None
        self._transceiver: Any = None
        self._channel_dc: Any = None
        self._fp_offer: str | None = None
        self._offer_sent = asyncio.Event()
        self._answered = False
        self._input = InputWorker(deps.injector_factory)
        self._data_handlers: dict[str, Callable[[Any], None]] = {}
        #: server messages that features own (``permission_ask``: ``agent/asking.py``)
        self._signal_handlers: dict[str, Callable[[Any], None]] = {}
        #: features that add a data channel before the offer (files), and that clean up at the end
        self._peer_hooks: list[Callable[[RTCPeerConnection], None]] = []
        self._end_hooks: list[Callable[[], None]] = []
        #: one monitor or the whole desktop: the track's region and the input's origin follow it
        self.monitors = MonitorSwitch(
            send=self.send_data,
            track=lambda: self._track,
            input_path=self._input,
            may_show=lambda: self.policy.allows("view"),
        )
        self.on_data("select_monitor", self.monitors.select)
        self._ended = False
        self._done = asyncio.Event()
        self._started_at = datetime.now(UTC)
        #: when the user pressed Allow: the session's duration counts from here, as on the server
        self._allowed_at: datetime | None = None
        self._ended_at = self._started_at
        self.sas: str | None = None
        self.end_by: str | None = None
        self.end_reason: str | None = None

    # ------------------------------------------------------------ main flow

    async def run(self) -> bool:
        """Run the session to its end; ``False`` when the join was refused (the user may retry)."""
        try:
            await self._send(
                Join(
                    code=self._code,
                    agent_version=__version__,
                    platform=self._deps.platform_name,
                    language=self._deps.language,
                )
            )
            first = await self._first_reply()
        except ChannelClosed:
            first = None
        if not isinstance(first, Joined):
            self._input.close()
            log.warning(
                "join refused: %s", f"{first.code}: {first.message}" if first else "connection closed"
            )
            self._deps.post(JoinFailed(join_error_text(self._deps.language, first)))
            await self._close_channel()
            return False
        self._joined = first
        log.info(
            "joined session %s: %s from %s, ticket #%d, requested=%s",
            first.session_id,
            first.technician_name,
            first.organization,
            first.ticket_id,
            ",".join(first.requested),
        )
        self._deps.post(ShowConsent(first))
        spawn(self._negotiate(), name="veo-agent-offer")
        receiving = spawn(self._receive_loop(), name="veo-agent-receive")
        await self._done.wait()  # whichever side ends it, end() sets this last
        receiving.cancel()
        return True

    async def _first_reply(self) -> Joined | Error | None:
        while True:
            message = _parse_from_server(await self._channel.recv())
            if message is None:
                continue
            if isinstance(message, Joined | Error):
                return message
            log.info("ignored %s before joined", message.type)

    async def _receive_loop(self) -> None:
        while not self._ended:
            try:
                raw = await self._channel.recv()
            except ChannelClosed:
                await self.end("system", "connection_lost")
                return
            message = _parse_from_server(raw)
            if message is None:
                continue
            try:
                await self._handle(message)
            except Exception:  # a bad answer must end this session cleanly, not crash the agent
                log.exception("could not handle %s", message.type)
                await self._fail("negotiation_failed")

    async def _handle(self, message: ServerMessage) -> None:
        if isinstance(message, Answer):
            await self._on_answer(message)
        elif isinstance(message, TechnicianConfirmed):
            self._on_technician_confirmed(message)
        elif isinstance(message, Ended):
            await self.end(message.by, message.reason or "ended")
        elif isinstance(message, Error):
            log.warning("server error %s: %s", message.code, message.message)
            if message.fatal:
                await self.end("system", message.code)
        elif message.type in self._signal_handlers:
            self._signal_handlers[message.type](message)
        else:
            log.debug("ignored %s", message.type)

    # ------------------------------------------------------------ WebRTC

    async def _negotiate(self) -> None:
        assert self._joined is not None
        try:
            low_latency.install()
            pc = RTCPeerConnection(
                ice_configuration(self._joined.ice_servers, self._joined.ice_transport_policy)
            )
            self._pc = pc
            self._track = ScreenTrack(self._deps.capture_factory, fps=self._deps.fps)
            self._track.on_failure = self._on_capture_failure
            self._transceiver = pc.addTransceiver(self._track, direction="sendonly")
            prefer_codecs(self._transceiver)
            dc = pc.createDataChannel(DATA_CHANNEL_LABEL, ordered=True)
            self._channel_dc = dc
            dc.on("open", lambda: spawn(self._on_data_open(), name="veo-agent-dc-open"))
            dc.on("message", self._on_data_message)
            for hook in self._peer_hooks:  # extra channels must exist before createOffer
                hook(pc)
            pc.on("connectionstatechange", self._on_connection_state)
            self._handshake = SasHandshake(self._joined.session_id)
            await pc.setLocalDescription(await pc.createOffer())
            local_sdp: str = pc.localDescription.sdp
            self._fp_offer = local_sha256_fingerprint(self._transceiver, local_sdp)
            if self._ended:
                return
            await self._send(Offer(sdp=local_sdp, commitment=self._handshake.commitment))
            self._offer_sent.set()
            log.info("offer sent")
        except ChannelClosed:
            await self.end("system", "connection_lost")
        except Exception:
            log.exception("WebRTC negotiation failed")
            await self._fail("negotiation_failed")

    async def _on_answer(self, answer: Answer) -> None:
        await self._offer_sent.wait()
        if self._answered or self._pc is None or self._handshake is None or self._fp_offer is None:
            log.warning("ignored an unexpected answer")
            return
        self._answered = True
        if encoder.video_refused(answer.sdp):
            reason = encoder.unsupported_reason()
            log.warning(
                "the console's browser refused the video (offered %s): ending with %s",
                ",".join(encoder.codec_order()),
                reason,
            )
            await self._fail(reason)
            return
        await self._pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
        self._handshake.accept_answer(answer.nonce)
        await self._send(Reveal(nonce=self._handshake.reveal_hex))
        self.sas = self._handshake.code(self._fp_offer, answer.sdp)
        log.info("SAS shown to the user: %s sas=%s", sas_mod.display(self.sas), self.sas)
        self._deps.post(SasKnown(self.sas))

    def _on_technician_confirmed(self, message: TechnicianConfirmed) -> None:
        if self._ended:
            return
        was_active = self.policy.control_active
        self.policy.technician(message)
        log.info(
            "technician confirmed sas=%s identity_required=%s identity_confirmed=%s",
            message.sas_confirmed,
            message.identity_required,
            message.identity_confirmed,
        )
        if self.policy.control_active != was_active:
            log.info("control %s", "enabled" if self.policy.control_active else "disabled")
            if not self.policy.control_active:
                self._input.release_all()
        self._send_control()

    def _on_connection_state(self) -> None:
        state = self._pc.connectionState if self._pc else "closed"
        log.info("peer connection %s", state)
        if state in ("failed", "closed") and not self._ended:
            spawn(self._fail(f"connection_{state}"), name="veo-agent-end")

    def _on_capture_failure(self, _detail: str) -> None:
        spawn(self._fail("capture_failed"), name="veo-agent-end")

    async def _on_data_open(self) -> None:
        if self._track is None or self._ended:
            return
        try:
            size = await self._track.size()
        except CaptureError as exc:
            log.error("cannot capture the screen: %s", exc)
            await self._fail("capture_failed")
            return
        self.send_data(self.monitors.screen(size))
        self._send_control()
        self.monitors.start()

    def on_data(self, message_type: str, handler: Callable[[Any], None]) -> None:
        """Register what a feature does with an allowed console message of ``message_type``.

        Called on the event loop, after the policy allowed the message (see ``NEEDS``).
        """
        self._data_handlers[message_type] = handler

    def on_signal(self, message_type: str, handler: Callable[[Any], None]) -> None:
        """Register what a feature does with a server message of ``message_type`` (on the event loop)."""
        self._signal_handlers[message_type] = handler

    async def send_signal(self, message: AgentMessage) -> None:
        """Send a feature's message to the server (dropped, and logged, once the connection is closed)."""
        await self._send_quietly(message)

    def extend_grant(
        self, asked: Iterable[Permission], ticked: Iterable[Permission]
    ) -> frozenset[Permission]:
        """The user accepted more mid-session: the grant grows by what was asked AND ticked, the
        console is told by ``control``; returns what is new (see ``Policy.extend``)."""
        if self._ended:
            return frozenset()
        was_active = self.policy.control_active
        added = self.policy.extend(asked, ticked)
        if added:
            log.info(
                "grant extended added=%s granted=%s",
                ",".join(p.value for p in ordered(added)),
                ",".join(self.policy.granted_list()),
            )
            if self.policy.control_active and not was_active:
                log.info("control enabled")
            self._send_control()
        return added

    def release_input(self) -> None:
        """Let go of every key and button the technician holds (a question opened on the screen)."""
        self._input.release_all()

    def on_peer(self, hook: Callable[[RTCPeerConnection], None]) -> None:
        """``hook(pc)`` runs before the offer is created: a feature adds its own data channel there."""
        self._peer_hooks.append(hook)

    def on_end(self, hook: Callable[[], None]) -> None:
        """``hook()`` runs once when the session ends, after the grant was forgotten."""
        self._end_hooks.append(hook)

    @property
    def joined(self) -> Joined | None:
        """The server's ``joined`` (who, which ticket, the role's limits), once known."""
        return self._joined

    def _on_data_message(self, raw: str | bytes) -> None:
        """One data-channel message; whatever it holds, it is dropped or handled and never raises.

        aiortc calls this from its own receive task: an exception here would be lost with every
        message after it, so anything unexpected is logged and the next message still comes.
        """
        try:
            self._judge_and_handle(raw)
        except Exception:
            log.exception("dropped a data-channel message that could not be handled")

    def _judge_and_handle(self, raw: str | bytes) -> None:
        verdict = self.policy.judge(raw)
        message = verdict.message
        if message is not None:
            if message.type in INPUT_TYPES:
                self._input.submit(cast(InputMessage, message))
                return
            handler = self._data_handlers.get(message.type)
            if handler is None:
                log.info("ignored type=%s: not handled by this agent", message.type)
                return
            try:
                handler(message)
            except Exception:  # one bad feature message must not end the session
                log.exception("handling %s failed", message.type)
        elif verdict.reason is not None and self._notices.should_notify(verdict.reason, time.monotonic()):
            self.send_data(Dropped(reason=verdict.reason))

    def send_data(self, message: AgentDataMessage) -> None:
        """Send to the console on the data channel (dropped silently while it is not open)."""
        dc = self._channel_dc
        if dc is not None and dc.readyState == "open":
            dc.send(message.dumps())

    def data_open(self) -> bool:
        """Whether the data channel to the console is open right now (features check before sending)."""
        dc = self._channel_dc
        return not self._ended and dc is not None and dc.readyState == "open"

    def allows(self, need: Need) -> bool:
        """What the user's grant allows the agent itself to send (see ``NEEDS``)."""
        return self.policy.allows(need)

    def _send_control(self) -> None:
        self.send_data(
            Control(
                granted=self.policy.granted_list(),
                paused=self.policy.paused,
                active=self.policy.control_active,
                waiting_for=self.policy.waiting_for(),
            )
        )

    # ------------------------------------------------------------ the user's decisions (from the UI)

    def allow(self, ticked: Iterable[Permission]) -> None:
        """Allow pressed with these boxes ticked; ignored until the SAS is shown."""
        if self._ended or self._joined is None:
            return
        if self.sas is None:
            log.warning("Allow ignored: the verification code is not known yet")
            return
        self.policy.grant(self._joined.requested, ticked)
        if Permission.VIEW not in self.policy.granted:
            log.info("nothing to share was allowed: treating Allow as Deny")
            self.deny()
            return
        granted = self.policy.granted_list()
        self._allowed_at = datetime.now(UTC)
        spawn(self._send_quietly(Consent(granted=granted, sas_confirmed=True)), name="veo-agent-consent")
        log.info("session started granted=%s", ",".join(granted))
        if self.policy.control_active:
            log.info("control enabled")
        if self._track is not None:
            self._track.allow()
        self._send_control()
        self._deps.post(Started(tuple(granted)))

    def declare_mismatch(self) -> None:
        """The user says the technician's code differs: suspected interception, end for both."""
        if self._ended or self.sas is None:
            return
        log.warning("the user declared that the verification codes differ")
        spawn(
            self._say_and_end(Abort(reason="sas_mismatch"), "system", "sas_mismatch_user"),
            name="veo-agent-mismatch",
        )

    def deny(self) -> None:
        if self._ended:
            return
        spawn(self._say_and_end(Deny(), "user", "denied"), name="veo-agent-deny")

    def stop(self, reason: str = "user_stopped") -> None:
        """Stop pressed (or the agent was asked to quit): hang up and end."""
        if self._ended:
            return
        spawn(self._say_and_end(Hangup(reason=reason), "user", reason), name="veo-agent-stop")

    def set_paused(self, paused: bool) -> None:
        if self._ended or not self.policy.control_granted or self.policy.paused == paused:
            return
        self.policy.paused = paused
        if paused:
            self._input.release_all()
        log.info("control paused" if paused else "control resumed")
        spawn(self._send_quietly(ControlState(paused=paused)), name="veo-agent-control-state")
        self._send_control()
        self._deps.post(ControlChanged(paused))

    async def _fail(self, reason: str) -> None:
        """The agent itself must end the session (capture, WebRTC): tell the server why, then end."""
        if self._ended:
            return
        await self._say_and_end(Hangup(reason=reason), "system", reason)

    async def _say_and_end(self, message: AgentMessage, by: str, reason: str) -> None:
        await self._send_quietly(message)
        await self.end(by, reason)

    # ------------------------------------------------------------ the end

    async def end(self, by: str, reason: str) -> None:
        """Stop everything, once, whoever ended it."""
        if self._ended:
            return
        self._ended = True
        self._ended_at = datetime.now(UTC)  # the moment it ended, as the server stamps ended_at
        self.end_by, self.end_reason = by, reason
        log.info("session ended by=%s reason=%s", by, reason)
        granted = [p.value for p in self.policy.granted_list()]
        self.monitors.close()
        if self._track is not None:
            self._track.stop()
        released = self._input.close()
        self.policy.forget()
        for hook in self._end_hooks:
            try:
                hook()
            except Exception:  # one feature's cleanup must not skip the others'
                log.exception("a feature's end hook failed")
        if released is not None:
            try:
                await asyncio.wrap_future(released)
            except Exception:
                log.exception("releasing input failed")
        if self._pc is not None:
            await self._pc.close()
        log.info("capture stopped, grant forgotten")
        await self._close_channel()
        self._write_history(granted, by, reason)
        self._deps.post(SessionEnded(by, reason))
        self._done.set()

    def _write_history(self, granted: list[str], by: str, reason: str) -> None:
        if not self._deps.record_history or self._joined is None:
            return
        joined = self._joined
        allowed_at = self._allowed_at.isoformat(timespec="milliseconds") if self._allowed_at else ""
        history.append(
            history.HistoryEntry(
                started_at=self._started_at.isoformat(timespec="seconds"),
                ended_at=self._ended_at.isoformat(timespec="milliseconds"),
                allowed_at=allowed_at,
                server=self._deps.server,
                session_id=joined.session_id,
                organization=joined.organization,
                technician=joined.technician_name,
                ticket_id=joined.ticket_id,
                ticket_title=joined.ticket_title,
                granted=granted,
                ended_by=by,
                reason=reason,
            )
        )

    # ------------------------------------------------------------ signaling helpers

    async def _send(self, message: AgentMessage) -> None:
        await self._channel.send(message.dumps())

    async def _send_quietly(self, message: AgentMessage) -> None:
        try:
            await self._send(message)
        except ChannelClosed:
            log.info("could not send %s: the server connection is closed", message.type)

    async def _close_channel(self) -> None:
        try:
            await self._channel.close()
        except Exception:
            log.debug("closing the signaling channel failed", exc_info=True)
