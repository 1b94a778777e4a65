"""Who is on a ``/ws/device`` socket: the challenge, and the check of the device's answer.

Pure code (no database, no socket), so the verification can be tested on its own and with
hypothesis: :class:`Challenge` is a fresh 32-byte nonce for one socket, answered once, within
:data:`veo.protocol.device.CHALLENGE_SECONDS`; :meth:`Challenge.answer` decides what a
``device_hello`` proves against what the database knows of that device (:class:`KnownDevice`).

The origin signed (decided here, and the device side, ``veo.agent.device``, signs the same): the
server's public origin, ``scheme://host[:port]`` of ``VEO_PUBLIC_URL`` as a browser writes it
(:func:`veo.server.origins.origin_of`: lowercase, default port left out, no path; ``wss`` counts
as ``https``). A device signs the origin of the server URL it was enrolled with, so a signature
made for one veo server (a test server, a server that impersonates the real one on another name)
is worth nothing on another. Only while no public URL is configured (a developer's machine) is
the origin the socket itself was opened on accepted too, as :mod:`veo.server.origins` does for
browsers.

What each refusal tells the device: only ``revoked`` sets ``forget`` (the enrolment is over, and
the device proved with its own signature that it is the one revoked: it drops its key).
``unknown_device`` does not: devices are never deleted here, so "unknown" only happens when the
server answering is not the one that enrolled the device (a database restored from a backup older
than the enrolments, a staging server behind the production name, a fresh install); telling the
fleet to forget would unenrol every computer for an operator's mistake, and each would need
re-enrolling by hand. The device keeps trying with its backoff instead, and IT can still
``veo agent unenrol`` it. ``bad_signature`` does not either (a server that changed its public URL
makes every signature "bad"); ``challenge_expired`` and ``malformed`` neither.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.requests import HTTPConnection

from veo.config import Settings
from veo.protocol.device import (
    CHALLENGE_SECONDS,
    DeviceChallenge,
    DeviceHello,
    RefusedReason,
    auth_payload,
    decode_public_key,
)
from veo.server.origins import origin_of

#: Bytes of randomness in every challenge.
NONCE_BYTES = 32


@dataclass(frozen=True)
class KnownDevice:
    """What the database says about the device a hello names (a snapshot, no session attached)."""

    device_id: str
    #: unpadded base64url of the raw Ed25519 public key, as enrolment stored it
    public_key: str
    revoked: bool


@dataclass(frozen=True)
class Verdict:
    """The outcome of one answer: ``refused`` is None when the device proved who it is."""

    refused: RefusedReason | None = None

    @property
    def forget(self) -> bool:
        """Whether the refusal ends the enrolment at the device (it drops its key): only a
        revocation the device proved is its own (see the module's docstring)."""
        return self.refused == "revoked"


ACCEPTED = Verdict()


def server_origins(settings: Settings, connection: HTTPConnection | None = None) -> frozenset[str]:
    """The origins a device's signature may name: ``VEO_PUBLIC_URL``'s; while no public URL is
    configured, also the one the socket was opened on (``ws``/``wss`` counted as ``http``/``https``)."""
    origins = {origin_of(settings.public_url)}
    if connection is not None and "public_url" not in settings.model_fields_set:
        origins.add(origin_of(f"{connection.url.scheme}://{connection.headers.get('host', '')}"))
    return frozenset(o.lower() for o in origins if o is not None)


def signature_valid(public_key: str, payload: bytes, signature_hex: str) -> bool:
    """Whether ``signature_hex`` is an Ed25519 signature of ``payload`` under ``public_key``.

    False for anything that is not: a malformed key or signature included (never raises).
    """
    try:
        key = Ed25519PublicKey.from_public_bytes(decode_public_key(public_key))
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    if len(signature) != 64:
        return False
    try:
        key.verify(signature, payload)
    except InvalidSignature:
        return False
    return True


class Challenge:
    """One socket's challenge: a fresh nonce, answered once, in time.

    A second answer on the same socket is refused whatever it says (``malformed``): a socket
    proves one identity once, and a recorded hello cannot be tried again on it. A hello recorded
    from another socket names that socket's nonce, so its signature fails here.
    """

    def __init__(
        self,
        *,
        nonce: bytes | None = None,
        seconds: float = CHALLENGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.nonce = nonce if nonce is not None else secrets.token_bytes(NONCE_BYTES)
        if len(self.nonce) != NONCE_BYTES:
            raise ValueError(f"a challenge nonce is {NONCE_BYTES} bytes")
        self.seconds = seconds
        self._clock = clock
        self.issued = clock()
        self.answered = False

    def message(self, heartbeat_seconds: int | None = None) -> DeviceChallenge:
        if heartbeat_seconds is None:
            return DeviceChallenge(nonce=self.nonce.hex())
        return DeviceChallenge(nonce=self.nonce.hex(), heartbeat_seconds=heartbeat_seconds)

    def remaining(self) -> float:
        """Seconds left to answer (never below zero)."""
        return max(0.0, self.seconds - (self._clock() - self.issued))

    def answer(self, hello: DeviceHello, known: KnownDevice | None, origins: Iterable[str]) -> Verdict:
        """What ``hello`` proves. Single use: the challenge is spent by its first answer.

        Order matters for what a stranger learns: an unknown id is said to be unknown (the
        device it names, if any, is gone for good), but a known device's revocation is told
        only to whoever proves they hold its key; anyone else gets ``bad_signature``.
        """
        if self.answered:
            return Verdict("malformed")
        self.answered = True
        if self.remaining() <= 0:
            return Verdict("challenge_expired")
        if known is None or known.device_id != hello.device_id:
            return Verdict("unknown_device")
        proven = any(
            signature_valid(
                known.public_key, auth_payload(self.nonce, hello.device_id, origin), hello.signature
            )
            for origin in origins
        )
        if not proven:
            return Verdict("bad_signature")
        if known.revoked:
            return Verdict("revoked")
        return ACCEPTED
