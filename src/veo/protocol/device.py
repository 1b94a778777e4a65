"""Company devices (issue 17): enrolment, the device socket ``/ws/device``, and a session's launch.

A device that IT enrolled keeps one WebSocket to the server, opened by the agent's service
(``veo agent service``, a system unit). Nothing on that socket is trusted before the device proved
it holds the private key registered at enrolment:

1. server ``device_challenge`` (a fresh random nonce, single use, for this socket only)
2. device ``device_hello`` (its id and an Ed25519 signature over :func:`auth_payload`: the nonce,
   the device id and the server's origin, under a context string, so a signature made for one
   socket, one device or one server is worth nothing on another)
3. server ``device_welcome`` (what the device is now: name, group, policy) or ``device_refused``
   (unknown device, revoked, bad signature, too slow; ``forget``, only for a revoked one: the
   device must drop its key)

Then the device beats (``device_heartbeat``) and waits. When a technician connects to it, the
server sends ``session_request``: a join code the device never shows, the group's policy that
applied, the reason and who. The service checks the policy against its own enrolment (an
unattended session needs a device enrolled for it) and starts the session part on the user's
desktop with a :class:`LaunchSpec` on its standard input; that part joins ``/ws/agent`` with the
code and the request's ``secret`` (the server redeems a device session's code only with it), and
the service answers ``session_launch`` (started, or why not). ``device_revoked`` (server) and
``device_unenrol`` (device) end the enrolment at once.

Enrolment itself is one HTTPS request, ``POST /api/v1/enrol`` (:class:`EnrolRequest` →
:class:`EnrolResponse`), authorised by a single-use enrolment token.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from veo.protocol.base import Message, parse, type_names

#: What a connection to a managed device does (the device group's policy), gentlest first:
#: ``ask``: veo's consent dialog at once, no code; ``notify``: starts, the person at the device sees
#: who and why and can stop; ``unattended``: starts with nobody answering (roles with that
#: capability, devices enrolled for it), the session bar always visible.
DevicePolicy = Literal["ask", "notify", "unattended"]
DEVICE_POLICIES: tuple[DevicePolicy, ...] = ("ask", "notify", "unattended")

#: Prefix of every enrolment token (``veo-enrol-`` + 32 base32 letters): tells it from a join
#: code at a glance, and lets the server refuse a pasted code without a lookup.
TOKEN_PREFIX = "veo-enrol-"
TOKEN_PATTERN = r"^veo-enrol-[a-z2-7]{32}$"

#: Signed with every ``device_hello``; a new version of the scheme gets a new context.
AUTH_CONTEXT = b"veo-device-auth-v1"
#: How long the device has to answer its challenge.
CHALLENGE_SECONDS = 10.0
#: How often the device says it is alive (the server also pings every socket every 5 s).
HEARTBEAT_SECONDS = 30

#: C0, DEL and C1: what no name, user, version or reason may hold (the server cleans by it too).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(value: str) -> str:
    """Names, users and reasons are shown on pages and written to the database: no NUL (which
    PostgreSQL refuses, failing a whole batch of presence writes) and no control characters."""
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("control characters are not allowed")
    return value


Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]
DeviceId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
ShortText = Annotated[str, Field(max_length=120), AfterValidator(_printable)]
AccessReason = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_printable)]


def auth_payload(nonce: bytes, device_id: str, server_origin: str) -> bytes:
    """The bytes a device signs to answer a challenge.

    Length-prefixed fields under :data:`AUTH_CONTEXT`: no two different (nonce, id, origin)
    triples give the same bytes, so a signature cannot be reinterpreted for another device or
    server. ``server_origin`` is ``scheme://host[:port]`` as the device reached it (lowercase).
    """
    parts = [AUTH_CONTEXT, nonce, device_id.encode(), server_origin.lower().encode()]
    return b"".join(len(p).to_bytes(2, "big") + p for p in parts)


def encode_public_key(raw: bytes) -> str:
    """A raw 32-byte Ed25519 public key as the wire carries it (unpadded base64url)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_public_key(text: str) -> bytes:
    """The raw key back; ``ValueError`` unless it is exactly 32 bytes of base64url."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return raw


# ---------------------------------------------------------------- enrolment (HTTPS)


class EnrolRequest(BaseModel):
    """``POST /api/v1/enrol``: the token IT was given and what the device says about itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: Annotated[str, Field(max_length=80)]
    public_key: Annotated[str, Field(min_length=43, max_length=44)]
    #: The name people will see in the device list (the host name unless IT chose one).
    name: Annotated[str, Field(min_length=1, max_length=80), AfterValidator(_printable)]
    hostname: ShortText = ""
    os_name: ShortText = ""
    os_user: ShortText = ""
    agent_version: Annotated[str, Field(max_length=40), AfterValidator(_printable)] = ""
    language: Annotated[str, Field(max_length=10)] = "en"

    @field_validator("public_key")
    @classmethod
    def _key(cls, value: str) -> str:
        decode_public_key(value)
        return value


class EnrolResponse(BaseModel):
    """What the device keeps (``device.json``) and what the notice tells the person at it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: DeviceId
    device_name: ShortText
    organization: ShortText
    group: ShortText
    policy: DevicePolicy
    #: The token allowed unattended access for this device (never changes later: re-enrol).
    unattended: bool
    #: Who created the token (the person accountable for the enrolment).
    enrolled_by: ShortText
    #: ISO 8601, UTC.
    enrolled_at: Annotated[str, Field(max_length=40)]


# ---------------------------------------------------------------- /ws/device


class DeviceChallenge(Message):
    """Server -> device, first on every socket: sign this nonce (see :func:`auth_payload`)."""

    type: Literal["device_challenge"] = "device_challenge"
    nonce: Hex32
    heartbeat_seconds: Annotated[int, Field(ge=5, le=3600)] = HEARTBEAT_SECONDS


class DeviceHello(Message):
    """Device -> server: who it is, proven by the signature; what it runs and who is signed in."""

    type: Literal["device_hello"] = "device_hello"
    device_id: DeviceId
    signature: Hex64
    agent_version: Annotated[str, Field(max_length=40), AfterValidator(_printable)] = ""
    os_name: ShortText = ""
    #: The person signed in to the desktop right now (empty: nobody).
    os_user: ShortText = ""


class DeviceWelcome(Message):
    """Server -> device: authenticated; what the server knows the device as."""

    type: Literal["device_welcome"] = "device_welcome"
    device_name: ShortText
    group: ShortText
    policy: DevicePolicy
    organization: ShortText


RefusedReason = Literal["unknown_device", "revoked", "bad_signature", "challenge_expired", "malformed"]


class DeviceRefused(Message):
    """Server -> device, then the socket closes. ``forget``: the enrolment is over (a revocation
    the device proved its key for): the device deletes its key and configuration and stops trying.
    An unknown device is not told to forget (an old backup or the wrong server behind the name
    must not unenrol a fleet): it keeps trying with its backoff."""

    type: Literal["device_refused"] = "device_refused"
    reason: RefusedReason
    forget: bool = False


class DeviceHeartbeat(Message):
    """Device -> server, every ``heartbeat_seconds``: still here, and who is signed in now."""

    type: Literal["device_heartbeat"] = "device_heartbeat"
    os_user: ShortText = ""


class SessionRequest(Message):
    """Server -> device: a technician connects. ``code`` is a join code the device never shows;
    ``secret`` (32 random bytes, hex) is what makes the join the DEVICE's: the server keeps only
    its SHA-256 and redeems the code of a device session only with it, so whoever learns the code
    alone cannot join in the device's place."""

    type: Literal["session_request"] = "session_request"
    session_id: Annotated[str, Field(max_length=36)]
    code: Annotated[str, Field(pattern=r"^[0-9]{9}$")]
    secret: Hex32
    policy: DevicePolicy
    reason: AccessReason
    technician_name: ShortText
    organization: ShortText
    ticket_id: int
    ticket_title: Annotated[str, Field(max_length=200)]


#: ``policy_not_told``: the request asks more than the person at the computer was last told the
#: organization may do (the group's policy changed); the device showed them the notice first and
#: refuses this one request, the next one works.
LaunchProblem = Literal["no_desktop", "unattended_not_enrolled", "busy", "launch_failed", "policy_not_told"]


class SessionLaunch(Message):
    """Device -> server: the session part started on the user's desktop, or why it did not."""

    type: Literal["session_launch"] = "session_launch"
    session_id: Annotated[str, Field(max_length=36)]
    ok: bool
    problem: LaunchProblem | None = None


class DeviceRevoked(Message):
    """Server -> device: the enrolment was revoked; forget everything now."""

    type: Literal["device_revoked"] = "device_revoked"


class DeviceUnenrol(Message):
    """Device -> server (after authentication): the device leaves; the server revokes its key
    and answers ``device_revoked``."""

    type: Literal["device_unenrol"] = "device_unenrol"


DeviceMessage = Annotated[
    DeviceHello | DeviceHeartbeat | SessionLaunch | DeviceUnenrol,
    Field(discriminator="type"),
]
ServerToDevice = Annotated[
    DeviceChallenge | DeviceWelcome | DeviceRefused | SessionRequest | DeviceRevoked,
    Field(discriminator="type"),
]
_device_adapter: TypeAdapter[DeviceMessage] = TypeAdapter(DeviceMessage)
_server_adapter: TypeAdapter[ServerToDevice] = TypeAdapter(ServerToDevice)
_device_types = type_names(DeviceMessage)
_server_types = type_names(ServerToDevice)


def parse_device_message(raw: str | bytes) -> DeviceMessage:
    return parse(raw, _device_adapter, _device_types)


def parse_server_to_device(raw: str | bytes) -> ServerToDevice:
    return parse(raw, _server_adapter, _server_types)


# ---------------------------------------------------------------- session part


class DeviceSession(BaseModel):
    """What a session on a managed device is, as ``joined`` and the console's ``session_state``
    carry it (absent for a session joined with a code the user typed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_name: ShortText
    policy: DevicePolicy
    reason: AccessReason


class LaunchSpec(BaseModel):
    """Service -> session part, as JSON on the session part's standard input (never in its
    arguments or environment, which other local programs may read).

    ``policy`` is what the service accepted after checking it against its own enrolment; the
    session part starts without the user's Allow only for ``notify`` and ``unattended``, and only
    when started this way.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    server: Annotated[str, Field(max_length=300)]
    code: Annotated[str, Field(pattern=r"^[0-9]{9}$")]
    #: :attr:`SessionRequest.secret`, sent back in the session part's ``join`` (``device_secret``).
    secret: Hex32
    session_id: Annotated[str, Field(max_length=36)]
    policy: DevicePolicy
    reason: AccessReason
    technician_name: ShortText
    organization: ShortText
    device_name: ShortText
    ca_file: Annotated[str, Field(max_length=4096)] = ""
    language: Annotated[str, Field(max_length=10)] = ""
    #: Where the device's own history is (the service's state directory), to add this session.
    device_history: Annotated[str, Field(max_length=4096)] = ""


__all__ = [
    "AUTH_CONTEXT",
    "DEVICE_POLICIES",
    "AccessReason",
    "DeviceChallenge",
    "DeviceHeartbeat",
    "DeviceHello",
    "DeviceMessage",
    "DevicePolicy",
    "DeviceRefused",
    "DeviceRevoked",
    "DeviceSession",
    "DeviceUnenrol",
    "DeviceWelcome",
    "EnrolRequest",
    "EnrolResponse",
    "LaunchSpec",
    "ServerToDevice",
    "SessionLaunch",
    "SessionRequest",
    "auth_payload",
    "decode_public_key",
    "encode_public_key",
    "parse_device_message",
    "parse_server_to_device",
]
