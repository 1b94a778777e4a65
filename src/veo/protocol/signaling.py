"""Signaling messages: agent <-> server <-> console over WebSocket (``/ws/agent``, ``/ws/console``).

The server routes these and records the steps of the support protocol; it never sees pixels or
input. Flow of one session (``docs/architecture.md`` has the picture):

1. agent ``join`` (code) -> server ``joined`` (who, what is requested, ICE servers)
2. agent ``offer`` (SDP + commitment C = SHA-256(nA)) -> relayed to console
3. console ``answer`` (SDP + its nonce nB) -> relayed to agent
4. agent ``reveal`` (nA) -> relayed; the console checks it against C, or sends ``abort``
5. agent ``consent`` (what the user ticked; Allow is the user's "same code" confirmation) or ``deny``
6. console ``sas_confirm`` (the technician clicked "Codes match") and ``identity`` (how the user's
   identity was confirmed) -> server ``technician_confirmed`` to the agent, which keeps control off
   until the technician confirmed the code (and the identity, when the role's policy requires it)
7. either side ``abort`` (``sas_mismatch``): the codes differ, suspected interception, ended for both
8. agent ``control_state`` whenever the user pauses/resumes control
9. either side ``hangup`` -> server ``ended`` to both
10. console ``permission_request`` -> server ``permission_ask`` -> agent ``permission_answer``: more
    permission mid-session, granted only by the user's answer (``veo.protocol.asking``)

Resume (``veo.protocol.resume`` has the proof and why it is safe): a lost signaling socket is
replaced by a new one whose first message is ``rejoin`` (the session id and the ``resume_token``
of ``joined``) instead of ``join``; the server answers ``rejoined``. A lost peer connection
(heartbeat silent, ICE failed, closed) is reported with ``interrupted``; the agent then sends an
``offer`` with ``resume`` on a new peer connection, the console answers with a
``resume_proof`` when it holds the session's resume key, and the agent's ``reveal`` carries its own
proof. The agent reports the outcome: ``resumed`` (by proof, or by a new code comparison after
``verify_again``) or ``resume_refused`` (a wrong proof; the console reports one it caught the same
way). The user's grant waits ``resume_grace_seconds`` (the role's policy) for the connection to
come back; then the server ends the session (``connection_lost``).

Browser share (no install): the join page joins as ``client="browser"`` and offers exactly like
the agent (view only). It may ask for an ``upgrade_request``: the server answers ``upgrade_code``
(a single-use continuation code for THIS session); a ``veo agent`` that joins with it continues the
same session (same id and ticket, consent asked again), the server tells the page ``upgraded`` and
the console gets the new ``agent_joined`` and offer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from veo.protocol import codes
from veo.protocol.asking import PermissionAnswer, PermissionAsk, PermissionRequest, PermissionStatus
from veo.protocol.base import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, Message, ProtocolError, parse, type_names
from veo.protocol.device import DeviceSession
from veo.protocol.permissions import Permission
from veo.protocol.transfer import DEFAULT_MAX_FILE_BYTES

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="32 bytes, lowercase hex")]
Sdp = Annotated[str, Field(min_length=10, max_length=64 * 1024)]
Reason = Annotated[str, Field(max_length=200)]

EndedBy = Literal["technician", "user", "system"]
#: How the technician confirmed who the user is (the console asks; the session records it).
IdentityMethod = Literal["email_link", "phone_questions", "managed_device", "not_verified"]
IDENTITY_METHODS: tuple[IdentityMethod, ...] = (
    "email_link",
    "phone_questions",
    "managed_device",
    "not_verified",
)
SessionStatus = Literal["waiting", "joined", "connecting", "active", "ended", "expired"]
#: Who shares the screen: the installed agent, or the join page in a browser (view only).
SessionMode = Literal["agent", "browser"]


class IceServer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    urls: list[str]
    username: str | None = None
    #: a TURN password: kept out of ``repr`` so that logging a message never writes it
    credential: str | None = Field(default=None, repr=False)


#: ``relay``: the peer gathers only TURN relay candidates (``VEO_ICE_TRANSPORT_POLICY``).
IceTransportPolicy = Literal["all", "relay"]


# ---------------------------------------------------------------- agent -> server


class Join(Message):
    type: Literal["join"] = "join"
    code: Annotated[str, Field(max_length=20)]
    agent_version: Annotated[str, Field(max_length=40)] = ""
    platform: Annotated[str, Field(max_length=60)] = ""
    language: Annotated[str, Field(max_length=10)] = "en"
    #: ``browser``: the join page shares with ``getDisplayMedia`` (view, chat, pointer only).
    client: SessionMode = "agent"
    #: A managed device's session part (issue 17): the ``secret`` of its ``session_request``. The
    #: server redeems a device session's code only with it, and refuses it on any other session.
    device_secret: Hex32 | None = None
    omit_when_none = frozenset({"device_secret"})

    @field_validator("code")
    @classmethod
    def _a_code(cls, value: str) -> str:
        code = codes.normalise(value)
        if code is None:
            raise ValueError(f"the code has {codes.DIGITS} digits")
        return code


class Offer(Message):
    type: Literal["offer"] = "offer"
    sdp: Sdp
    commitment: Hex32
    #: A new peer connection for a session the user already allowed: the console answers with its
    #: ``resume_proof`` when it holds the resume key; the user's grant stands.
    resume: bool = False


class ConsoleOffer(Offer):
    """The agent's offer as the server relays it to a console: with the console's own ICE servers
    (TURN credentials made for it when the offer reaches it) and the operator's ICE policy. The
    agent cannot set these (its ``offer`` has no such fields)."""

    ice_servers: list[IceServer] = []
    ice_transport_policy: IceTransportPolicy = "all"


class Reveal(Message):
    type: Literal["reveal"] = "reveal"
    nonce: Hex32
    #: On a resume offer whose answer carried a proof that checked out: the agent's own proof.
    resume_proof: Hex32 | None = None


class Consent(Message):
    type: Literal["consent"] = "consent"
    granted: Annotated[list[Permission], Field(max_length=len(Permission))]
    sas_confirmed: bool


class Deny(Message):
    type: Literal["deny"] = "deny"


class ControlState(Message):
    type: Literal["control_state"] = "control_state"
    paused: bool


#: ``hangup`` reason of an agent whose video the console's browser cannot play (its answer rejected
#: the video line): ``codec_unsupported`` when H.264 and VP8 were both offered, ``..._h264`` or
#: ``..._vp8`` when ``veo agent --codec`` offered only that one. Each side says it in a sentence.
CODEC_UNSUPPORTED = "codec_unsupported"
CODEC_UNSUPPORTED_REASONS = frozenset(
    {CODEC_UNSUPPORTED, f"{CODEC_UNSUPPORTED}_h264", f"{CODEC_UNSUPPORTED}_vp8"}
)


class Hangup(Message):
    type: Literal["hangup"] = "hangup"
    reason: Reason = ""


class UpgradeRequest(Message):
    """Browser share only: the user wants the app; the server answers ``upgrade_code``."""

    type: Literal["upgrade_request"] = "upgrade_request"


ResumeToken = Annotated[str, Field(min_length=1, max_length=100)]
SessionId = Annotated[str, Field(min_length=1, max_length=64)]


class Rejoin(Message):
    """The first message of a NEW signaling socket of an agent that already joined (instead of ``join``).

    ``media`` says whether its peer connection to the console is still up (``up``), being replaced
    (``lost``), or was never made (``none``).
    """

    type: Literal["rejoin"] = "rejoin"
    session_id: SessionId
    token: ResumeToken
    media: Literal["up", "lost", "none"] = "none"


#: What made the agent give up a peer connection: the data channel's heartbeat fell silent,
#: ICE failed, or the connection was closed by the other end (a reloaded console).
InterruptCause = Literal["heartbeat", "ice_failed", "closed"]


class Interrupted(Message):
    """Agent -> server: the peer connection to the console was lost; input is frozen, the grant waits."""

    type: Literal["interrupted"] = "interrupted"
    cause: InterruptCause


class Resumed(Message):
    """Agent -> server: a new peer connection carries the session again.

    ``proof``: the console proved the resume key; ``code``: the user compared a new code (after
    ``verify_again``); ``connection_kept``: only signaling was lost, the peer connection lived on.
    """

    type: Literal["resumed"] = "resumed"
    verified_by: Literal["proof", "code", "connection_kept"]


class VerifyAgain(Message):
    """Agent -> server: the new connection's console had no resume key (another browser): the codes
    must be compared again; the server clears the technician's "Codes match" until clicked anew."""

    type: Literal["verify_again"] = "verify_again"


class ResumeRefused(Message):
    """Agent or console -> server: the other side's resume proof was wrong (``bad_proof``) or, after
    ours was sent, missing where the exchange required it; audited and counted toward the end."""

    type: Literal["resume_refused"] = "resume_refused"
    reason: Literal["bad_proof", "missing_proof"]


# ---------------------------------------------------------------- console -> server


class Answer(Message):
    type: Literal["answer"] = "answer"
    sdp: Sdp
    nonce: Hex32
    #: On a resume offer: the console's proof that it holds the session's resume key.
    resume_proof: Hex32 | None = None


class Abort(Message):
    """Possible interception, the session must end: a wrong commitment (console) or codes that
    differ when read aloud (declared by the technician in the console or by the user on the agent)."""

    type: Literal["abort"] = "abort"
    reason: Literal["sas_commitment_mismatch", "sas_mismatch"]


class Ping(Message):
    """Console -> server while the link to the user's computer is lost: is this socket still alive?

    A socket whose network dropped looks open to the browser until TCP gives up or resends; the
    agent's resume offer would wait in it. The server answers ``pong`` at once (no database work);
    a console that hears nothing opens a new socket, on which the server re-sends the offer.
    """

    type: Literal["ping"] = "ping"


class Pong(Message):
    """Server -> console: the answer to ``ping``."""

    type: Literal["pong"] = "pong"


class SasConfirm(Message):
    """The technician clicked "Codes match": the user read back the same six digits."""

    type: Literal["sas_confirm"] = "sas_confirm"


class IdentityConfirm(Message):
    """How the technician confirmed the user's identity (recorded on the session and audited)."""

    type: Literal["identity"] = "identity"
    method: IdentityMethod


# ---------------------------------------------------------------- server -> peers


class Joined(Message):
    type: Literal["joined"] = "joined"
    session_id: str
    organization: str
    technician_name: str
    ticket_id: int
    ticket_title: str
    requested: list[Permission]
    ice_servers: list[IceServer] = []
    ice_transport_policy: IceTransportPolicy = "all"
    #: Lets the agent post the user's rating once the session has ended
    #: (``POST /api/v1/sessions/{session_id}/rating``); empty: the server takes no rating.
    rating_token: Annotated[str, Field(max_length=200)] = ""
    #: The role policy's largest file either side may send (the agent refuses bigger offers).
    max_file_bytes: Annotated[int, Field(ge=0, le=2**40)] = DEFAULT_MAX_FILE_BYTES
    #: Proves this agent on a later ``rejoin`` (a new signaling socket); only its digest is stored.
    resume_token: Annotated[str, Field(max_length=100)] = ""
    #: How long the user's grant waits for a lost connection (the role's policy); 0: no resume.
    resume_grace_seconds: Annotated[int, Field(ge=0, le=3600)] = 0
    #: A session on a managed device (issue 17): its name, the group's policy and the reason.
    #: The agent acts on the policy only as its device service launched it (``LaunchSpec``).
    device: DeviceSession | None = None
    omit_when_none = frozenset({"device"})


class Rejoined(Message):
    """Server -> agent: the new signaling socket carries the session again.

    ``renegotiate``: the server lost the session's negotiation (it restarted before the user's
    Allow): the agent starts over with a fresh offer and a fresh code.
    """

    type: Literal["rejoined"] = "rejoined"
    session_id: str
    status: SessionStatus
    ice_servers: list[IceServer] = []
    ice_transport_policy: IceTransportPolicy = "all"
    renegotiate: bool = False


class UpgradeCode(Message):
    """Server -> browser: a single-use code that lets ``veo agent`` continue THIS session."""

    type: Literal["upgrade_code"] = "upgrade_code"
    code: Annotated[str, Field(pattern=codes.PATTERN)]
    expires_at: Annotated[str, Field(max_length=40)]
    #: The exact command for the user (``veo agent --server URL --code CODE``).
    command: Annotated[str, Field(max_length=300)]
    #: Where the user gets the app: this server's ``/download?code=<this code>`` when it holds a build,
    #: else ``VEO_AGENT_DOWNLOAD_URL``; empty: neither.
    download_url: Annotated[str, Field(max_length=300)] = ""


class Upgraded(Message):
    """Server -> browser: the agent joined with the continuation code and took over the session."""

    type: Literal["upgraded"] = "upgraded"


class TechnicianConfirmed(Message):
    """Server -> agent: the technician's side of the checks, sent whenever it changes.

    The agent keeps control off until ``sas_confirmed`` and, when ``identity_required``, until
    ``identity_confirmed`` (a method other than ``not_verified`` was recorded).
    """

    type: Literal["technician_confirmed"] = "technician_confirmed"
    sas_confirmed: bool
    identity_required: bool = False
    identity_confirmed: bool = False


class AgentJoined(Message):
    """Tells the console that a user entered the code (before any consent)."""

    type: Literal["agent_joined"] = "agent_joined"
    platform: str = ""
    language: str = "en"
    address: str = ""
    mode: SessionMode = "agent"
    #: The agent continued a browser share (same session, consent asked again).
    upgraded: bool = False


class SessionState(Message):
    """The server's view of the session, sent to the console on connect and on every change."""

    type: Literal["session_state"] = "session_state"
    session_id: str
    status: SessionStatus
    agent_connected: bool
    requested: list[Permission]
    granted: list[Permission] = []
    control_paused: bool = False
    #: The technician clicked "Codes match" (the user's confirmation is the consent itself).
    technician_sas_confirmed: bool = False
    #: The role's policy wants the user's identity confirmed before control.
    identity_required: bool = False
    #: How the identity was confirmed, once recorded.
    identity: IdentityMethod | None = None
    #: ``browser``: the user shares from the join page; control is not available.
    mode: SessionMode = "agent"
    #: A session on a managed device (issue 17): no code to compare before control, the policy.
    device: DeviceSession | None = None
    omit_when_none = frozenset({"device"})
    #: What the technician asked for mid-session while the user has not answered yet.
    permission_pending: Annotated[list[Permission], Field(max_length=len(Permission))] = []
    #: The connection to the user's computer is lost and the grant waits for it (input frozen).
    interrupted: bool = False
    #: When the session ends unless the connection comes back (ISO 8601, UTC); with ``interrupted``.
    resume_deadline: str | None = None


class Ended(Message):
    type: Literal["ended"] = "ended"
    by: EndedBy
    reason: Reason = ""


class Error(Message):
    type: Literal["error"] = "error"
    code: Annotated[str, Field(max_length=60)]
    message: Annotated[str, Field(max_length=500)]
    fatal: bool = False
    #: ``rate_limited``: seconds until this address may try a code again (the user is told how long);
    #: ``too_many_joins`` (refused at the door, too many joins in flight): a few seconds.
    retry_after: Annotated[int, Field(ge=0, le=86400)] | None = None
    #: ``agent_outdated``: the oldest agent version the server accepts, and where the new one is.
    min_version: Annotated[str, Field(max_length=40)] | None = None
    download_url: Annotated[str, Field(max_length=300)] | None = None


AgentMessage = Annotated[
    Join
    | Offer
    | Reveal
    | Consent
    | Deny
    | ControlState
    | Abort
    | Hangup
    | UpgradeRequest
    | PermissionAnswer
    | Rejoin
    | Interrupted
    | Resumed
    | VerifyAgain
    | ResumeRefused,
    Field(discriminator="type"),
]
ConsoleMessage = Annotated[
    Answer | Abort | SasConfirm | IdentityConfirm | Hangup | PermissionRequest | ResumeRefused | Ping,
    Field(discriminator="type"),
]
ServerMessage = Annotated[
    Joined
    | AgentJoined
    | SessionState
    | ConsoleOffer
    | Answer
    | Reveal
    | Consent
    | ControlState
    | TechnicianConfirmed
    | UpgradeCode
    | Upgraded
    | PermissionAsk
    | PermissionStatus
    | Rejoined
    | Pong
    | Ended
    | Error,
    Field(discriminator="type"),
]

_agent_adapter: TypeAdapter[AgentMessage] = TypeAdapter(AgentMessage)
_console_adapter: TypeAdapter[ConsoleMessage] = TypeAdapter(ConsoleMessage)
_server_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
_agent_types = type_names(AgentMessage)
_console_types = type_names(ConsoleMessage)
_server_types = type_names(ServerMessage)


def parse_agent_message(raw: str | bytes) -> AgentMessage:
    return parse(raw, _agent_adapter, _agent_types)


def parse_console_message(raw: str | bytes) -> ConsoleMessage:
    return parse(raw, _console_adapter, _console_types)


def parse_server_message(raw: str | bytes) -> ServerMessage:
    return parse(raw, _server_adapter, _server_types)


__all__ = [
    "IDENTITY_METHODS",
    "MAX_MESSAGE_BYTES",
    "PROTOCOL_VERSION",
    "Abort",
    "AgentJoined",
    "AgentMessage",
    "Answer",
    "Consent",
    "ConsoleMessage",
    "ConsoleOffer",
    "ControlState",
    "Deny",
    "Ended",
    "Error",
    "Hangup",
    "IceServer",
    "IceTransportPolicy",
    "IdentityConfirm",
    "IdentityMethod",
    "InterruptCause",
    "Interrupted",
    "Join",
    "Joined",
    "Offer",
    "Ping",
    "Pong",
    "ProtocolError",
    "Rejoin",
    "Rejoined",
    "ResumeRefused",
    "Resumed",
    "Reveal",
    "SasConfirm",
    "ServerMessage",
    "SessionMode",
    "SessionState",
    "TechnicianConfirmed",
    "UpgradeCode",
    "UpgradeRequest",
    "Upgraded",
    "VerifyAgain",
]
