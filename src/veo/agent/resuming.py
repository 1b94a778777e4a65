"""What the agent keeps to resume a session on a new peer connection (issue 13, point 2).

aiortc has no ICE restart, so a lost connection is replaced by a new ``RTCPeerConnection`` on
the same session (``session.py`` builds it). Three small pieces (and :class:`Grace`, the
deadline) live here, apart from the networking, so that each can be tested on its own:

* :class:`HeartbeatClock`: when the console was last heard on the data channel. aioice alone
  takes ~30 s to notice a dead path; the data channel's ``heartbeat`` every second says it
  within :data:`~veo.protocol.resume.LOST_AFTER_SECONDS`. The clock is armed when the channel
  opens if the server supports resume (its console beats), else by the console's first
  heartbeat: an older page that never beats is left to ICE's own state.
* :class:`ResumeSecret`: the session's resume key, drawn once, handed to the console only inside
  a verified connection, and the proofs under it (``veo.protocol.resume``). Never logged: its
  ``repr`` hides the key.
* :class:`PeerLink`: one peer connection and what is known about it: its handshake and
  fingerprints, whether it is a resume, and whether it is *trusted* (allowed to carry the
  session: the first connection, verified by the code read aloud before the user's Allow; a
  resumed one only once the proof checked out or the code was compared again).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from veo.agent.handshake import SasHandshake
from veo.protocol import resume
from veo.protocol.datachannel import ResumeKey

Clock = Callable[[], float]
#: How a new connection came to be trusted (``resumed.verified_by``).
VerifiedBy = Literal["proof", "code"]


class HeartbeatClock:
    """Silence on the data channel, measured; ``lost`` once the console fell silent too long."""

    def __init__(self, clock: Clock = time.monotonic, lost_after: float = resume.LOST_AFTER_SECONDS) -> None:
        self._clock = clock
        self._lost_after = lost_after
        self._last: float | None = None
        #: the console sends heartbeats: only then may silence mean a loss
        self.armed = False

    def heard(self, heartbeat: bool = False) -> None:
        """Any message is a sign of life; a ``heartbeat`` also arms the clock."""
        self._last = self._clock()
        if heartbeat:
            self.armed = True

    def silent_for(self) -> float:
        return 0.0 if self._last is None else self._clock() - self._last

    def lost(self) -> bool:
        return self.armed and self.silent_for() >= self._lost_after


@dataclass(frozen=True)
class Exchange:
    """What binds one resume exchange: both fingerprints, the offer's ``C`` and the answer's ``nB``."""

    session_id: str
    fp_offer: str
    fp_answer: str
    commitment: str
    nonce_b: str


class ResumeSecret:
    """The session's resume key: one per session, never rotated, never written anywhere."""

    def __init__(self) -> None:
        self._key = resume.new_key()

    def __repr__(self) -> str:  # a log line that prints the session must not print the key
        return "ResumeSecret(<hidden>)"

    def message(self) -> ResumeKey:
        """The ``resume_key`` for the console; send it only on a verified connection."""
        return ResumeKey(key=self._key.hex())

    def console_proved(self, proof_hex: str, exchange: Exchange) -> bool:
        return resume.check(
            self._key,
            "console",
            proof_hex,
            exchange.session_id,
            exchange.fp_offer,
            exchange.fp_answer,
            exchange.commitment,
            exchange.nonce_b,
        )

    def agent_proof(self, exchange: Exchange) -> str:
        return resume.proof(
            self._key,
            "agent",
            exchange.session_id,
            exchange.fp_offer,
            exchange.fp_answer,
            exchange.commitment,
            exchange.nonce_b,
        )


#: Where a code comparison after an unverified resume stands: asked (``verify_again`` sent),
#: cleared (the server's ``technician_confirmed`` false came back), then both sides confirmed.
Reverify = Literal["none", "asked", "cleared"]


@dataclass(eq=False)
class PeerLink:
    """One peer connection of the session; a lost one is closed and never used again."""

    pc: Any
    track: Any
    transceiver: Any
    dc: Any
    handshake: SasHandshake
    resume: bool
    fp_offer: str = ""
    answered: bool = False
    #: the connection may carry the session (screen, input, features)
    trusted: bool = False
    verified_by: VerifiedBy | None = None
    #: the user's Allow (first connection) or "The codes match" (a re-check) on THIS connection
    user_ok: bool = False
    #: the technician's "Codes match" relayed on THIS connection (after any ``verify_again``)
    technician_ok: bool = False
    reverify: Reverify = "none"
    #: the session took this connection up (resumed, screen sent) once it was trusted and open
    carried: bool = False
    key_sent: bool = False
    lost: bool = False
    clock: HeartbeatClock = field(default_factory=HeartbeatClock)
    #: the offer went out: an answer is expected (set before sending, so it cannot come first)
    offered: asyncio.Event = field(default_factory=asyncio.Event)
    #: a resume attempt's outcome: True once it carries the session, False when it failed
    outcome: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def open(self) -> bool:
        return self.dc is not None and self.dc.readyState == "open"

    @property
    def verified(self) -> bool:
        """Both people vouched for THIS connection, or its console proved the resume key."""
        return self.verified_by == "proof" or (self.user_ok and self.technician_ok)


class Grace:
    """How long the user's grant waits for a lost connection: a deadline, in both clocks."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self._monotonic: float | None = None
        self.ends_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self._monotonic is not None

    def start(self, clock: Clock = time.monotonic) -> None:
        """From the first loss; a second loss before the first was healed keeps the deadline."""
        if self._monotonic is None:
            self._monotonic = clock() + self.seconds
            self.ends_at = datetime.now(UTC) + timedelta(seconds=self.seconds)

    def stop(self) -> None:
        self._monotonic = None
        self.ends_at = None

    def left(self, clock: Clock = time.monotonic) -> float:
        return 0.0 if self._monotonic is None else max(0.0, self._monotonic - clock())
