"""What the session (event-loop thread) tells the windows (Tk main thread).

Plain immutable values, handed over through a queue that Tk polls: Tk may only be touched from
the main thread, and the event loop must never wait on a window.
"""

from __future__ import annotations

from dataclasses import dataclass

from veo.protocol.permissions import Permission
from veo.protocol.signaling import Joined

#: End reasons that mean "suspected interception" (wrong commitment, or codes that differ).
MISMATCH_REASONS = frozenset({"sas_commitment_mismatch", "sas_mismatch", "sas_mismatch_user"})


@dataclass(frozen=True)
class JoinFailed:
    """The code was refused or the server unreachable; the user may try again."""

    message: str


@dataclass(frozen=True)
class ShowConsent:
    joined: Joined


@dataclass(frozen=True)
class SasKnown:
    code: str


@dataclass(frozen=True)
class Started:
    granted: tuple[Permission, ...]


@dataclass(frozen=True)
class ControlChanged:
    paused: bool


@dataclass(frozen=True)
class SessionEnded:
    by: str
    reason: str


UiEvent = JoinFailed | ShowConsent | SasKnown | Started | ControlChanged | SessionEnded
