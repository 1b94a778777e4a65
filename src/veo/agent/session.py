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

The peer connection does not live as long as the session (issue 13, resume): each one is a
:class:`~veo.agent.resuming.PeerLink`. Once the user allowed, a lost link (heartbeat silent for
4 s, ICE failed, closed) freezes input, tells the server ``interrupted`` and the user
"Reconnecting…", and new links are offered (``offer.resume``) until one proves it reaches the
same verified console (its ``resume_proof`` under the session's resume key) or the people
compare a new code; the grant stands meanwhile and never grows. After the role's grace period
the session ends (``connection_lost``). Before the user's Allow a loss ends the session as
before. A lost signaling socket is replaced by ``agent/reconnect.py`` (``rejoin``).

On a managed device (issue 17) the device's service started this agent with a
:class:`~veo.agent.device_mode.DeviceContext` (``SessionDeps.device``); ``device_mode.decide``
says what ``joined`` then means. ``ask``: the dialog as above, with the managed-computer line;
``automatic`` (notify, unattended): consent goes out by itself with what was requested as soon as
the first connection's code is known (the console is there); ``refused``: the server's word
does not match the service's, the session ends at once (``device_mismatch``). In every device
mode the technician's "Codes match" is not waited for and the resume key goes to the console
right after consent (the server vouches for the console: :meth:`AgentSession._vouch`).

The media stack (aiortc, PyAV, numpy: ``stream.py``, ``low_latency.py``) is imported by the first
peer connection (:func:`load_media_stack`), not with this module: with a code known at start the
consent dialog does not wait for it (the app loads it earlier while the code window is up).
"""

from __future__ import annotations

import asyncio
import logging
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

from veo import __version__
from veo.agent import encoder, history
from veo.agent.backend import BackendError
from veo.agent.capture.base import CaptureError, ScreenCapture
from veo.agent.capture.monitors import MonitorLister
from veo.agent.desktop import Desktop
from veo.agent.desktop_step import DesktopStep
from veo.agent.device_mode import DEVICE_REFUSED, DeviceContext, Mode, decide, mismatch_detail
from veo.agent.events import (
    ControlChanged,
    JoinFailed,
    Reconnected,
    Reconnecting,
    ReverifyAsked,
    ReverifyClosed,
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
from veo.agent.reconnect import Backoff, ReconnectingChannel
from veo.agent.resuming import Exchange, Grace, PeerLink, ResumeSecret
from veo.agent.signaling import ChannelClosed, SignalingChannel
from veo.i18n import gettext_for
from veo.protocol import resume
from veo.protocol import sas as sas_mod
from veo.protocol.base import ProtocolError
from veo.protocol.datachannel import (
    DATA_CHANNEL_LABEL,
    INPUT_TYPES,
    AgentDataMessage,
    Control,
    Dropped,
    Heartbeat,
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
    InterruptCause,
    Interrupted,
    Join,
    Joined,
    Offer,
    Rejoin,
    Rejoined,
    Resumed,
    ResumeRefused,
    Reveal,
    ServerMessage,
    TechnicianConfirmed,
    VerifyAgain,
    parse_server_message,
)
from veo.tasks import spawn

if TYPE_CHECKING:
    from aiortc import RTCConfiguration, RTCPeerConnection

    from veo.agent.stream import ScreenTrack

log = logging.getLogger(__name__)

#: codec order of the offer by default: H.264 (cheap with libx264, decoded in hardware by browsers), VP8
#: fallback; ``veo agent --codec`` may narrow it (``encoder.codec_order``)
CODEC_ORDER = encoder.codec_order("auto")
#: How long one resume attempt waits for its answer and its data channel (a code comparison, once
#: asked, waits for the people instead, within the grace period).
ATTEMPT_SECONDS = 15.0
#: Between resume attempts: soon at first, then no faster than the server's limit
#: (``resume.MAX_RESUME_OFFERS_PER_MINUTE``).
ATTEMPT_DELAYS = (0.5, 2.0)
ATTEMPT_STEADY_SECONDS = 60 / resume.MAX_RESUME_OFFERS_PER_MINUTE
#: How long the last word to the server (``hangup``, ``deny``, ``abort``) may take before the end.
FAREWELL_SECONDS = 2.0
#: How often the console's silence is checked (heartbeats still go out every second).
HEARTBEAT_CHECK_SECONDS = 0.25
#: The end reason of a peer connection lost before the user's Allow (the session ends as before).
_LOST_BEFORE_CONSENT: dict[InterruptCause, str] = {
    "heartbeat": "connection_lost",
    "ice_failed": "connection_failed",
    "closed": "connection_closed",
}


def ice_configuration(servers: Iterable[IceServer], policy: IceTransportPolicy = "all") -> RTCConfiguration:
    """Only the ICE servers the veo server handed out: never aiortc's default public STUN.

    ``policy`` is the operator's ``VEO_ICE_TRANSPORT_POLICY`` as the server sent it; aiortc wants
    the enum (the string ``"relay"`` raises deep inside ``RTCIceGatherer``), and uses only the
    first STUN and the first TURN URL, which is why the server sends the agent one of each.
    """
    from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

    return RTCConfiguration(
        iceServers=[RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in servers],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY if policy == "relay" else RTCIceTransportPolicy.ALL,
    )


def prefer_codecs(transceiver: Any) -> None:
    """H.264 first, VP8 second, or the one ``--codec`` chose (plus retransmission); before createOffer."""
    from aiortc import RTCRtpSender

    capabilities = RTCRtpSender.getCapabilities("video").codecs
    chosen = [c for mime in encoder.codec_order() for c in capabilities if c.mimeType == mime]
    chosen += [c for c in capabilities if c.mimeType == "video/rtx"]
    transceiver.setCodecPreferences(chosen)


def load_media_stack() -> None:
    """Import what a peer connection needs (aiortc, PyAV, numpy, the screen track): half a second
    or more, once per process; ``app.py`` calls it while the code window is up."""
    import veo.agent.low_latency
    import veo.agent.stream  # noqa: F401


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
    if error.code == "agent_outdated":
        return outdated_text(language, error.min_version)
    return refusal_text(catalog, error.code, error.retry_after)


#: True when IT installed this agent (a package): it was started by a ``veo:`` link or from the
#: installed configuration (``launch.py``'s sources "link" and "installed"). Set by ``main()``.
_installed_by_it = False


def configure_updates(source: str) -> None:
    """Remember how this agent was started, for what the outdated notice tells the user to do.

    A downloaded copy is replaced by downloading the new one; a package IT installed is not: a
    downloaded one-file copy leaves the package as it is, and the next ``veo:`` link starts the
    old agent again, so that user is told to ask the IT department instead.
    """
    global _installed_by_it
    _installed_by_it = source in ("link", "installed")


def outdated_text(language: str, minimum: str | None, installed: bool | None = None) -> str:
    """The server accepts only newer agents: which version this is, which it needs, what to do.

    The server checks the version before the code, so the code is still good for the new one.
    ``installed``: IT installed this agent (default: what :func:`configure_updates` was told).
    """
    _ = gettext_for(language).gettext
    if installed is None:
        installed = _installed_by_it
    if minimum:
        first = _(
            "This veo app is too old (version {version}): "
            "the support server needs version {minimum} or newer."
        ).format(version=__version__, minimum=minimum)
    else:
        first = _("This veo app is too old (version {version}) for the support server.").format(
            version=__version__
        )
    if installed:
        return (
            first
            + " "
            + _(
                "Ask your IT department to update veo on this computer. "
                "Your code was not used: it still works."
            )
        )
    return (
        first
        + " "
        + _(
            "Download the new version from the link below and open it. "
            "Your code was not used: it still works."
        )
    )


def download_link(error: Error | None, server: str) -> str:
    """Where an outdated agent gets the new one: the server's ``download_url`` only when it is on
    the server this agent is connected to (same scheme, host and port), else that server's own
    ``/download``. veo's sentence above the link must not vouch for a page some other host serves
    (a server can name any address; the real one only ever sends its own ``/download``)."""
    if error is None or error.code != "agent_outdated":
        return ""
    own = server.rstrip("/") + "/download" if server else ""
    url = (error.download_url or "").strip()
    try:
        offered, connected = _origin(url), _origin(server)
    except ValueError:  # a port that is not a number, a host that is not one
        return own
    if offered is not None and offered == connected:
        return url
    return own


def _origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an ``https://`` or ``http://`` address, else ``None``."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), parts.port or (443 if parts.scheme == "https" else 80)


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
    #: opened after the user's Allow (``agent/desktop_step.py``); ``None``: nothing to open (tests)
    desktop: Desktop | None = None
    platform_name: str = field(default_factory=lambda: platform.platform(terse=True)[:60])
    #: set only when the device's service started this agent (``veo agent --device-session``)
    device: DeviceContext | None = None


class AgentSession:
    def __init__(self, channel: SignalingChannel, code: str, deps: SessionDeps) -> None:
        self._channel = channel
        self._code = code
        self._deps = deps
        self.policy = Policy()
        self._notices = DropNotices()
        self._joined: Joined | None = None
        #: what ``joined`` means on this computer (``device_mode.decide``), once joined
        self.mode: Mode = "personal"
        #: the peer connection carrying (or about to carry) the session; replaced after a loss
        self._link: PeerLink | None = None
        self._ice: tuple[list[IceServer], IceTransportPolicy] = ([], "all")
        #: the session's resume key: handed to the console only inside a verified connection
        self._secret = ResumeSecret()
        self._grace = Grace(0)
        self._grace_timer: asyncio.TimerHandle | None = None
        self._resuming: asyncio.Task[None] | None = None
        #: every connection's heartbeat loop: stopped at the end, so none is left sleeping when the
        #: agent's loop stops right after it (``Task was destroyed but it is pending!``)
        self._beats: set[asyncio.Task[None]] = set()
        self._signaling_lost_at: float | None = None
        self._input = InputWorker(deps.injector_factory)
        self._data_handlers: dict[str, Callable[[Any], None]] = {}
        #: server messages that features own (``permission_ask``: ``agent/asking.py``)
        self._signal_handlers: dict[str, Callable[[Any], None]] = {}
        #: features that add a data channel before the offer (files), and that clean up at the end
        self._peer_hooks: list[Callable[[RTCPeerConnection], None]] = []
        self._end_hooks: list[Callable[[], None]] = []
        #: features that hold something of the lost connection (file transfers stop)
        self._lost_hooks: list[Callable[[], None]] = []
        #: the user's desktop: opened after Allow, its limits said to both sides, closed at the end
        self.desktop = DesktopStep(deps.desktop, deps.post)
        #: one monitor or the whole desktop: the track's region and the input's origin follow it
        self.monitors = MonitorSwitch(
            send=self.send_data,
            track=lambda: self._track,
            input_path=self._input,
            may_show=lambda: self.policy.allows("view"),
            lister=deps.desktop.monitors if deps.desktop is not None else MonitorLister,
        )
        self.on_data("select_monitor", self.monitors.select)
        self.on_data("view", self.monitors.set_view)
        self._ended = False
        self._done = asyncio.Event()
        self._started_at = datetime.now(UTC)
        #: when the user pressed Allow: the session's duration counts from here, as on the server
        self._allowed_at: datetime | None = None
        self._ended_at = self._started_at
        self.sas: str | None = None
        self.end_by: str | None = None
        self.end_reason: str | None = None
        if isinstance(channel, ReconnectingChannel):
            channel.listen(self)

    # ------------------------------------------------------------ the current connection

    @property
    def _pc(self) -> RTCPeerConnection | None:
        return self._link.pc if self._link is not None else None

    @property
    def _track(self) -> ScreenTrack | None:
        return self._link.track if self._link is not None else None

    # ------------------------------------------------------------ main flow

    def _device_secret(self) -> str | None:
        """The secret the device's service was given with the code (none on a personal agent)."""
        device = self._deps.device
        return device.secret if device is not None and device.secret else None

    async def run(self) -> bool:
        """Run the session to its end; ``False`` when the join was refused (the user may retry)."""
        try:
            await self._send(
                Join(
                    code=self._code,
                    agent_version=__version__,
                    platform=self._deps.platform_name,
                    language=self._deps.language,
                    # a managed device's session part proves the join is the device's own
                    device_secret=self._device_secret(),
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
            self._deps.post(
                JoinFailed(
                    join_error_text(self._deps.language, first), link=download_link(first, self._deps.server)
                )
            )
            await self._close_channel()
            return False
        self._joined = first
        self._ice = (list(first.ice_servers), first.ice_transport_policy)
        self._grace = Grace(first.resume_grace_seconds)
        log.info(
            "joined session %s: %s from %s, ticket #%d, requested=%s",
            first.session_id,
            first.technician_name,
            first.organization,
            first.ticket_id,
            ",".join(first.requested),
        )
        if not await self._take_mode(first):
            return True
        self._deps.post(ShowConsent(first))
        spawn(self._negotiate(), name="veo-agent-offer")
        receiving = spawn(self._receive_loop(), name="veo-agent-receive")
        await self._done.wait()  # whichever side ends it, end() sets this last
        receiving.cancel()
        return True

    async def _take_mode(self, joined: Joined) -> bool:
        """Decide what this session is on this computer; ``False``: refused and ended."""
        device = self._deps.device
        self.mode = decide(device, joined)
        if device is None:
            if joined.device is not None:  # never acted on without the device's own service
                log.info("the server calls this a device session: ignored, the user is asked as always")
            return True
        if self.mode == "refused":
            log.warning("device session refused: %s", mismatch_detail(device, joined))
            await self._say_and_end(Hangup(reason=DEVICE_REFUSED), "system", DEVICE_REFUSED)
            return False
        self.policy.device = True
        log.info("device session policy=%s mode=%s device=%s", device.policy, self.mode, device.device_name)
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
        elif isinstance(message, Rejoined):
            await self._on_rejoined(message)
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
        """The first connection: an offer the user's Allow will stand on (under the code)."""
        try:
            link = await self._build_link(resume=False)
            if self._ended:
                return
            link.offered.set()
            await self._send(Offer(sdp=link.pc.localDescription.sdp, commitment=link.handshake.commitment))
            log.info("offer sent")
        except ChannelClosed:
            await self.end("system", "connection_lost")
        except Exception:
            log.exception("WebRTC negotiation failed")
            await self._fail("negotiation_failed")

    async def _build_link(self, resume: bool) -> PeerLink:
        """A new peer connection with every feature's channel, its offer set locally (not sent)."""
        assert self._joined is not None
        load_media_stack()  # the first one, after the consent dialog was posted: the dialog does not wait
        from aiortc import RTCPeerConnection

        from veo.agent import low_latency
        from veo.agent.stream import ScreenTrack

        low_latency.install()
        servers, policy = self._ice
        pc = RTCPeerConnection(ice_configuration(servers, policy))
        track = ScreenTrack(self._deps.capture_factory, fps=self._deps.fps)
        track.on_failure = self._on_capture_failure
        transceiver = pc.addTransceiver(track, direction="sendonly")
        prefer_codecs(transceiver)
        dc = pc.createDataChannel(DATA_CHANNEL_LABEL, ordered=True)
        link = PeerLink(
            pc=pc,
            track=track,
            transceiver=transceiver,
            dc=dc,
            handshake=SasHandshake(self._joined.session_id),
            resume=resume,
            trusted=not resume,  # the first one is verified by the code read aloud before Allow
        )
        dc.on("open", lambda: self._on_data_open(link))
        dc.on("message", lambda raw: self._on_data_message(raw, link))
        dc.on("close", lambda: self._link_lost(link, "closed"))
        for hook in self._peer_hooks:  # extra channels must exist before createOffer
            hook(pc)
        pc.on("connectionstatechange", lambda: self._on_connection_state(link))
        self._link = link
        if self.monitors.region is not None:  # the monitor the console chose stays chosen
            await track.set_region(self.monitors.region)
        if self.monitors.view is not None:  # and the size it shows it at, until it says another
            await track.set_view(self.monitors.view)
        await pc.setLocalDescription(await pc.createOffer())
        link.fp_offer = local_sha256_fingerprint(transceiver, pc.localDescription.sdp)
        return link

    async def _on_answer(self, answer: Answer) -> None:
        link = self._link
        if link is None or not link.offered.is_set() or link.answered or link.lost:
            log.warning("ignored an unexpected answer")
            return
        link.answered = True
        if encoder.video_refused(answer.sdp):
            reason = encoder.unsupported_reason()
            log.warning(
                "the console's browser refused the video (offered %s): ending with %s",
                ",".join(encoder.codec_order()),
                reason,
            )
            await self._fail(reason)
            return
        from aiortc import RTCSessionDescription

        await link.pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
        link.handshake.accept_answer(answer.nonce)
        if link.resume:
            await self._on_resume_answer(link, answer)
            return
        await self._send(Reveal(nonce=link.handshake.reveal_hex))
        self.sas = link.handshake.code(link.fp_offer, answer.sdp)
        log.info("SAS shown to the user: %s sas=%s", sas_mod.display(self.sas), self.sas)
        self._deps.post(SasKnown(self.sas))
        self._consent_automatically()  # notify, unattended only: the console answered, it starts

    def _on_technician_confirmed(self, message: TechnicianConfirmed) -> None:
        if self._ended:
            return
        link = self._link
        if link is not None and not link.lost:
            if link.reverify == "asked" and not message.sas_confirmed:
                link.reverify = "cleared"  # the server forgot the earlier "Codes match"
            elif message.sas_confirmed and (not link.resume or link.reverify == "cleared"):
                link.technician_ok = True
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
        if link is not None and not link.lost:
            self._maybe_send_key(link)  # before control: a console that may act can also resume
            self._check_reverified(link)
        if not self.policy.reconnecting:  # a resumed connection hears control once it is carried
            self._send_control()

    def _on_connection_state(self, link: PeerLink) -> None:
        state = link.pc.connectionState
        log.info("peer connection %s", state)
        if state == "failed":
            self._link_lost(link, "ice_failed")
        elif state == "closed":
            self._link_lost(link, "closed")

    def _on_capture_failure(self, _detail: str) -> None:
        spawn(self._fail("capture_failed"), name="veo-agent-end")

    def _on_data_open(self, link: PeerLink) -> None:
        if link is not self._link or link.lost or self._ended:
            return
        # a server that hands out resume tokens serves a console that beats: silence counts from
        # the channel's opening (a console closed before its first beat is noticed too); from an
        # older server, only once the console has beaten
        link.clock.heard(heartbeat=bool(self._joined and self._joined.resume_token))
        beat = spawn(self._heartbeat(link), name="veo-agent-heartbeat")
        self._beats.add(beat)
        beat.add_done_callback(self._beats.discard)
        self._maybe_carry(link)

    def _maybe_carry(self, link: PeerLink) -> None:
        """Take the connection up once it may carry the session and its data channel is open."""
        if link is self._link and link.trusted and link.open and not link.carried and not link.lost:
            link.carried = True
            spawn(self._carry(link), name="veo-agent-dc-open")

    async def _carry(self, link: PeerLink) -> None:
        """The console hears the screen and control state (again, after a resume), frames flow."""
        if link is not self._link or link.lost or self._ended:
            # lost before this ran: its loss froze input and restarted the grace period again
            if not link.outcome.done():
                link.outcome.set_result(False)
            return
        if link.resume:
            assert link.verified_by is not None
            self.policy.reconnecting = False
            self._stop_grace()
            await self._send_quietly(Resumed(verified_by=link.verified_by))
            log.info("session resumed verified_by=%s", link.verified_by)
            self._deps.post(Reconnected())
        if not await self.desktop.ready():  # the portal: nothing to measure before its dialog
            return
        try:
            size = await link.track.size()
        except CaptureError as exc:
            log.error("cannot capture the screen: %s", exc)
            await self._fail("capture_failed")
            return
        if link is not self._link or link.lost or self._ended:
            return
        self._maybe_send_key(link)
        self.send_data(self.monitors.screen(size))
        self._announce_desktop()
        self._send_control()
        self.monitors.start()
        if self.policy.consented:
            link.track.allow()
        if not link.outcome.done():
            link.outcome.set_result(True)

    def _maybe_send_key(self, link: PeerLink) -> None:
        """The resume key, once per connection, only into one both people (or a proof) verified."""
        if link is self._link and link.carried and link.verified and not link.key_sent and link.open:
            link.key_sent = True
            link.dc.send(self._secret.message().dumps())
            log.info("resume key sent to the console on the verified connection")

    async def _heartbeat(self, link: PeerLink) -> None:
        """A heartbeat every second; the console's silence for 4 s means the connection is lost.

        Silence is checked four times a second, so a drop is noticed at most ~4.25 s after the
        console's last message (itself at most a second before the drop): within the 5 s promised.
        """
        next_beat = 0.0
        while not self._ended and not link.lost and link is self._link:
            await asyncio.sleep(HEARTBEAT_CHECK_SECONDS)
            if link.lost or self._ended:
                return
            now = time.monotonic()
            if link.open and now >= next_beat:
                next_beat = now + resume.HEARTBEAT_SECONDS
                try:
                    link.dc.send(Heartbeat().dumps())
                except Exception:
                    log.debug("heartbeat not sent", exc_info=True)
            if link.clock.lost():
                log.info("the console was silent for %.1f s", link.clock.silent_for())
                self._link_lost(link, "heartbeat")
                return

    # ------------------------------------------------------------ losing and resuming the connection

    def _link_lost(self, link: PeerLink, cause: InterruptCause) -> None:
        """``link`` stopped carrying anything: a failed attempt, or the session's connection."""
        if self._ended or link.lost or link is not self._link:
            return
        link.lost = True
        self._close_link(link)
        if link.resume and not link.carried:  # an attempt that did not make it: the loop retries
            log.info("resume attempt lost cause=%s", cause)
            if not link.outcome.done():
                link.outcome.set_result(False)
            return
        if not (self.policy.consented and self._grace.seconds > 0):
            spawn(self._fail(_LOST_BEFORE_CONSENT[cause]), name="veo-agent-end")
            return
        self.policy.reconnecting = True
        self._input.release_all()
        log.info(
            "peer connection lost cause=%s: input frozen, the grant waits up to %d s",
            cause,
            self._grace.seconds,
        )
        for hook in self._lost_hooks:
            try:
                hook()
            except Exception:
                log.exception("a feature's loss hook failed")
        self._start_grace()
        spawn(self._send_quietly(Interrupted(cause=cause)), name="veo-agent-interrupted")
        if isinstance(self._channel, ReconnectingChannel):
            spawn(self._channel.probe(), name="veo-agent-probe")
        if self._resuming is None or self._resuming.done():
            self._resuming = spawn(self._resume_loop(), name="veo-agent-resume")

    def _close_link(self, link: PeerLink) -> None:
        link.lost = True
        link.track.stop()
        spawn(link.pc.close(), name="veo-agent-close-pc")
        if link.reverify != "none" and not link.trusted:  # its code means nothing any more
            self._deps.post(ReverifyClosed())

    def _start_grace(self) -> None:
        if self._grace.running:
            return
        self._grace.start()
        self._grace_timer = asyncio.get_running_loop().call_later(
            self._grace.left(), lambda: spawn(self._grace_over(), name="veo-agent-grace")
        )
        assert self._grace.ends_at is not None
        self._deps.post(Reconnecting(self._grace.ends_at.astimezone(), self._grace.seconds))

    def _stop_grace(self) -> None:
        self._grace.stop()
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None

    async def _grace_over(self) -> None:
        if self._ended or not self.policy.reconnecting:
            return
        log.warning("the connection did not come back within %d s: ending", self._grace.seconds)
        await self._say_and_end(Hangup(reason="connection_lost"), "system", "connection_lost")

    async def _resume_loop(self) -> None:
        """New connections, one at a time, until one carries the session or the session ends."""
        backoff = Backoff(ATTEMPT_DELAYS, ATTEMPT_STEADY_SECONDS)
        while not self._ended and self.policy.reconnecting:
            if isinstance(self._channel, ReconnectingChannel):
                await self._channel.wait_up()
            if self._ended:
                return
            if await self._attempt():
                return
            await asyncio.sleep(backoff.next())

    async def _attempt(self) -> bool:
        link: PeerLink | None = None
        try:
            link = await self._build_link(resume=True)
            link.offered.set()
            await self._send(
                Offer(sdp=link.pc.localDescription.sdp, commitment=link.handshake.commitment, resume=True)
            )
            log.info("resume offer sent")
            try:
                return await asyncio.wait_for(asyncio.shield(link.outcome), ATTEMPT_SECONDS)
            except TimeoutError:
                if link.reverify != "none" and not link.lost:
                    return await link.outcome  # the people compare the code; the grace bounds it
                log.info("resume attempt timed out")
                return False
        except ChannelClosed:
            log.info("resume offer not sent: signaling is down")
            return False
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("resume attempt failed")
            return False
        finally:
            if link is not None and not link.carried and not link.lost and not self._ended:
                self._close_link(link)

    async def _on_resume_answer(self, link: PeerLink, answer: Answer) -> None:
        """Accept the new connection by the console's proof, or ask for the code again (no proof)."""
        assert self._joined is not None
        exchange = Exchange(
            session_id=self._joined.session_id,
            fp_offer=link.fp_offer,
            fp_answer=sas_mod.sha256_fingerprint(answer.sdp),
            commitment=link.handshake.commitment,
            nonce_b=answer.nonce,
        )
        if answer.resume_proof is not None:
            if not self._secret.console_proved(answer.resume_proof, exchange):
                log.warning("resume refused: the console's proof does not match this connection")
                await self._send_quietly(ResumeRefused(reason="bad_proof"))
                self._close_link(link)
                if not link.outcome.done():
                    link.outcome.set_result(False)
                return
            reveal = Reveal(nonce=link.handshake.reveal_hex, resume_proof=self._secret.agent_proof(exchange))
            if not await self._reveal(link, reveal):
                return
            link.verified_by = "proof"
            link.trusted = True
            log.info("resume proof checked: the same console on new fingerprints")
            self._maybe_carry(link)
            return
        if not await self._reveal(link, Reveal(nonce=link.handshake.reveal_hex)):
            return
        self.sas = link.handshake.code(link.fp_offer, answer.sdp)
        link.reverify = "asked"
        self.policy.technician_sas_confirmed = False  # the server clears it too (verify_again)
        await self._send_quietly(VerifyAgain())
        log.info("resume without proof: the codes must be compared again sas=%s", self.sas)
        self._deps.post(ReverifyAsked(self.sas))

    async def _reveal(self, link: PeerLink, reveal: Reveal) -> bool:
        """Send a resume exchange's reveal; signaling down meanwhile fails this attempt (the loop
        offers again once it is back) instead of the session (``_receive_loop`` ends on a raise)."""
        try:
            await self._send(reveal)
        except ChannelClosed:
            log.info("resume reveal not sent: signaling is down")
            self._close_link(link)
            if not link.outcome.done():
                link.outcome.set_result(False)
            return False
        return True

    def confirm_code(self, code: str) -> None:
        """The user pressed "The codes match" under ``code`` after a resume without proof.

        The code shown is part of the answer: a click from a prompt of an earlier connection (whose
        code differs) must not count for a newer connection's comparison.
        """
        link = self._link
        if self._ended or link is None or link.lost or link.reverify == "none":
            return
        if code != self.sas:
            log.info("ignored a code confirmation for a code this connection does not show")
            return
        log.info("the user confirmed the new verification code")
        link.user_ok = True
        self._check_reverified(link)

    def _check_reverified(self, link: PeerLink) -> None:
        both = link.user_ok and link.technician_ok
        if link.resume and link.reverify == "cleared" and both and not link.trusted:
            link.verified_by = "code"
            link.trusted = True
            self._deps.post(ReverifyClosed())
            self._maybe_carry(link)

    # ------------------------------------------------------------ signaling comes and goes

    def rejoin_message(self) -> Rejoin | None:
        """For ``reconnect.ReconnectingChannel``: how to come back, or ``None`` (do not)."""
        joined = self._joined
        if self._ended or joined is None or not joined.resume_token or self._grace.seconds <= 0:
            return None
        link = self._link
        media: Literal["up", "lost", "none"] = "none"
        if self.policy.reconnecting:
            media = "lost"
        elif link is not None and link.open and not link.lost:
            media = "up"
        return Rejoin(session_id=joined.session_id, token=joined.resume_token, media=media)

    def reconnect_seconds_left(self) -> float:
        if self._ended:
            return 0.0
        since = self._signaling_lost_at
        left = self._grace.seconds - (time.monotonic() - since) if since is not None else self._grace.seconds
        if self._grace.running:
            left = min(left, self._grace.left())
        return max(0.0, left)

    def signaling_down(self) -> None:
        log.info("signaling lost: reconnecting")
        self._signaling_lost_at = time.monotonic()

    def signaling_up(self) -> None:
        self._signaling_lost_at = None
        link = self._link
        if link is not None and link.resume and not link.answered and not link.outcome.done():
            link.outcome.set_result(False)  # its offer may be lost with the old socket: offer again

    async def _on_rejoined(self, message: Rejoined) -> None:
        log.info("rejoined session status=%s renegotiate=%s", message.status, message.renegotiate)
        self._ice = (list(message.ice_servers), message.ice_transport_policy)
        link = self._link
        if message.renegotiate and not self.policy.consented:
            if link is not None and not link.lost:
                link.lost = True
                self._close_link(link)
            self.sas = None
            spawn(self._negotiate(), name="veo-agent-offer")
        elif self.policy.consented and not self.policy.reconnecting and link is not None and link.open:
            await self._send_quietly(Resumed(verified_by="connection_kept"))
        elif link is not None and not link.lost and link.reverify == "asked":
            # the server may never have heard verify_again (signaling dropped right after the reveal):
            # without it the technician's old "Codes match" is never cleared and the comparison waits
            # for a confirmation that cannot come
            await self._send_quietly(VerifyAgain())

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
        added = self.policy.extend(self.desktop.grantable(asked), ticked)
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

    def on_lost(self, hook: Callable[[], None]) -> None:
        """``hook()`` runs when the connection to the console is lost (the session waits for a new
        one): whatever was under way on the old connection (a file transfer) stops there."""
        self._lost_hooks.append(hook)

    def on_end(self, hook: Callable[[], None]) -> None:
        """``hook()`` runs once when the session ends, after the grant was forgotten."""
        self._end_hooks.append(hook)

    @property
    def joined(self) -> Joined | None:
        """The server's ``joined`` (who, which ticket, the role's limits), once known."""
        return self._joined

    def _on_data_message(self, raw: str | bytes, link: PeerLink | None = None) -> None:
        """One data-channel message; whatever it holds, it is dropped or handled and never raises.

        aiortc calls this from its own receive task: an exception here would be lost with every
        message after it, so anything unexpected is logged and the next message still comes.
        A lost or replaced connection is not listened to at all (``link``: the connection it came
        on; ``None``, as unit tests feed it: the current one).
        """
        if link is not None and (link is not self._link or link.lost):
            return
        try:
            self._judge_and_handle(link, raw)
        except Exception:
            log.exception("dropped a data-channel message that could not be handled")

    def _judge_and_handle(self, link: PeerLink | None, raw: str | bytes) -> None:
        verdict = self.policy.judge(raw)
        if link is not None:
            link.clock.heard(heartbeat=verdict.message_type == "heartbeat")
        message = verdict.message
        if message is not None:
            if message.type == "heartbeat":
                return
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
        """Send to the console on the data channel: dropped silently while it is not open, and
        while the connection is not trusted (a resume not verified yet hears nothing)."""
        link = self._link
        if link is not None and link.trusted and link.open and not link.lost:
            link.dc.send(message.dumps())

    def data_open(self) -> bool:
        """Whether the data channel to the console is open and trusted right now (features check)."""
        link = self._link
        return not self._ended and link is not None and link.trusted and link.open and not link.lost

    def allows(self, need: Need) -> bool:
        """What the user's grant allows the agent itself to send (see ``NEEDS``)."""
        return self.policy.allows(need)

    def _announce_desktop(self) -> None:
        """What the user's desktop allows, to the console (after consent, once per connection)."""
        if self.policy.consented and self.data_open():
            self.desktop.announce(self._link, self.send_data)

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
        """Allow pressed with these boxes ticked; ignored until the SAS is shown. The desktop is
        opened first (on Wayland its own dialog asks too); the session starts once it granted."""
        if self._ended or self._joined is None:
            return
        if self.sas is None:
            log.warning("Allow ignored: the verification code is not known yet")
            return
        self.desktop.open_then(self._joined.requested, ticked, self._start, self._desktop_refused)

    def _consent_automatically(self) -> None:
        """A notify or unattended device session: what was requested is consented to without a
        dialog (the device's service checked the policy against its enrolment); the desktop is
        still opened first and still limits it."""
        if self.mode != "automatic" or self._ended or self._joined is None or self.policy.consented:
            return  # never for a personal agent, whatever the server says (``device_mode``)
        requested = list(self._joined.requested)
        log.info("consent given by the device's policy: %s", ",".join(requested))
        self.desktop.open_then(requested, requested, self._start, self._desktop_refused)

    def _vouch(self, link: PeerLink) -> None:
        """After consent on a device session: the server vouches for the technician's console (the
        device proved its key, the technician signed in), so no "Codes match" is waited for and
        the resume key may go to the console on this first connection."""
        if self.policy.device and self.policy.consented and not link.resume:
            link.technician_ok = True

    def _start(self, ticked: list[Permission]) -> None:
        """Allowed in veo's dialog and by the desktop: consent (only what the desktop grants)."""
        if self._ended or self._joined is None:
            return
        self.policy.grant(self._joined.requested, self.desktop.fit(ticked))
        if Permission.VIEW not in self.policy.granted:
            log.info("nothing to share was allowed: treating Allow as Deny")
            self.deny()
            return
        granted = self.policy.granted_list()
        self._allowed_at = datetime.now(UTC)
        # on a device session nobody compared the code: said as it is (the server accepts that there)
        confirmed = not self.policy.device
        spawn(self._send_quietly(Consent(granted=granted, sas_confirmed=confirmed)), name="veo-agent-consent")
        log.info("session started granted=%s", ",".join(granted))
        if self.policy.control_active:
            log.info("control enabled")
        link = self._link
        if link is not None:
            link.user_ok = True  # the Allow under this connection's code
            self._vouch(link)
            link.track.allow()
            self._maybe_send_key(link)
        self._announce_desktop()
        self._send_control()
        self._deps.post(Started(tuple(granted), self.desktop.user_limits()))

    async def _desktop_refused(self, error: BackendError) -> None:
        """Cancelled in the desktop's own window: the user's refusal. Else the desktop failed."""
        if error.reason == "portal_cancelled":
            await self._say_and_end(Deny(), "user", error.reason)
        else:
            await self._fail(error.reason)

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
        try:  # a socket on a dead path must not hold the end up
            await asyncio.wait_for(self._send_quietly(message), FAREWELL_SECONDS)
        except TimeoutError:
            log.info("could not send %s in time: ending anyway", message.type)
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
        self._stop_grace()
        if self._resuming is not None and self._resuming is not asyncio.current_task():
            self._resuming.cancel()
        beats = [beat for beat in self._beats if beat is not asyncio.current_task()]
        for beat in beats:
            beat.cancel()
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
        if self._link is not None:
            self._link.lost = True
            await self._link.pc.close()
        await self.desktop.close()  # the portal's session ends: the screen is given back
        await asyncio.gather(*beats, return_exceptions=True)
        log.info("capture stopped, grant forgotten")
        self._write_history(granted, by, reason)
        self._deps.post(SessionEnded(by, reason))  # the user hears it before a dead socket closes
        await self._close_channel()
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
                # a managed device's session: the policy that applied and why the technician came
                device_policy=self._deps.device.policy if self._deps.device is not None else "",
                access_reason=self._deps.device.reason if self._deps.device is not None else "",
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
