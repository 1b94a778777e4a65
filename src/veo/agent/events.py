"""What the session (event-loop thread) tells the windows (Tk main thread).

Plain immutable values, handed over through a queue that Tk polls: Tk may only be touched from
the main thread, and the event loop must never wait on a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from veo.agent.backend import Reason
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Joined

#: End reasons that mean "suspected interception" (wrong commitment, or codes that differ).
MISMATCH_REASONS = frozenset({"sas_commitment_mismatch", "sas_mismatch", "sas_mismatch_user"})


@dataclass(frozen=True)
class JoinFailed:
    """The code was refused or the server unreachable; the user may try again.

    ``link``: where to get what is needed (the new version's download page), shown as a link.
    """

    message: str
    link: str = ""


@dataclass(frozen=True)
class ShowConsent:
    joined: Joined


@dataclass(frozen=True)
class SasKnown:
    code: str


@dataclass(frozen=True)
class DesktopAsking:
    """After veo's Allow the desktop's own sharing window asks the user (``backend`` "portal"):
    veo's dialog steps aside (``agent/desktop_step.py``)."""

    backend: str


@dataclass(frozen=True)
class Started:
    """The session runs with ``granted``; ``limits``: what this desktop does not allow, for the bar
    (``veo.agent.backend.Reason`` codes, each said with ``reason_text``)."""

    granted: tuple[Permission, ...]
    limits: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class ControlChanged:
    paused: bool


@dataclass(frozen=True)
class SessionEnded:
    by: str
    reason: str


# ---------------------------------------------------------------- a lost connection (agent/resuming.py)


@dataclass(frozen=True)
class Reconnecting:
    """The connection to the technician was lost: input is frozen; the session ends at ``ends_at``
    (local time zone aware) unless it comes back within ``grace_seconds``."""

    ends_at: datetime
    grace_seconds: int


@dataclass(frozen=True)
class Reconnected:
    """The session is carried by a new connection again (the bar says what it said before)."""


@dataclass(frozen=True)
class ReverifyAsked:
    """The new connection's console could not prove itself: the user compares ``code`` again."""

    code: str


@dataclass(frozen=True)
class ReverifyClosed:
    """The code comparison is over (confirmed, refused, or the session ended): close the prompt."""


# ---------------------------------------------------------------- more permission (agent/asking.py)


@dataclass(frozen=True)
class PermissionAsked:
    """The technician asks for more: the user's prompt opens (each permission may be unticked)."""

    id: str
    permissions: tuple[Permission, ...]
    timeout_seconds: int


@dataclass(frozen=True)
class PermissionAskClosed:
    """The question ``id`` is over unanswered (it timed out, or the session ended): close the prompt."""

    id: str


@dataclass(frozen=True)
class GrantChanged:
    """The user accepted more: the whole grant now, and what was added (the bar and features follow)."""

    granted: tuple[Permission, ...]
    added: tuple[Permission, ...]


# ---------------------------------------------------------------- chat and system information
@dataclass(frozen=True)
class ChatLine:
    """A chat line to draw: from the technician, or the user's own once it left (or ``failed``)."""

    id: str
    mine: bool
    text: str
    failed: bool = False


@dataclass(frozen=True)
class ChatUnread:
    count: int


@dataclass(frozen=True)
class ChatAcknowledged:
    """The technician saw the user's lines up to ``id``."""

    id: str


@dataclass(frozen=True)
class SysinfoAsk:
    """Collected system information waiting for the user's Send / Don't send."""

    info: dict[str, object]


@dataclass(frozen=True)
class SysinfoClosed:
    """The session ended: close the system information window, nothing sent."""


# ---------------------------------------------------------------- clipboard and files (agent/files.py)


@dataclass(frozen=True)
class ClipboardReceived:
    """The technician sent text for the user's clipboard (already allowed by the policy)."""

    text: str


@dataclass(frozen=True)
class FileOffered:
    """The technician offers a file: the user accepts (choosing the folder) or declines."""

    id: str
    name: str
    size: int
    folder: str


@dataclass(frozen=True)
class FileTransferStarted:
    id: str
    name: str
    size: int
    outgoing: bool


@dataclass(frozen=True)
class FileTransferProgress:
    id: str
    done: int


@dataclass(frozen=True)
class FileTransferEnded:
    """``outcome``: done, cancelled, failed or rejected; ``detail``: the saved path or the reason."""

    id: str
    outcome: str
    detail: str


#: What the file windows draw (``veo.agent.ui.files.FileWindows.handle``).
FileEvent = FileOffered | FileTransferStarted | FileTransferProgress | FileTransferEnded

UiEvent = (
    JoinFailed
    | ShowConsent
    | SasKnown
    | DesktopAsking
    | Started
    | ControlChanged
    | SessionEnded
    | Reconnecting
    | Reconnected
    | ReverifyAsked
    | ReverifyClosed
    | PermissionAsked
    | PermissionAskClosed
    | GrantChanged
    | ChatLine
    | ChatUnread
    | ChatAcknowledged
    | SysinfoAsk
    | SysinfoClosed
    | ClipboardReceived
    | FileOffered
    | FileTransferStarted
    | FileTransferProgress
    | FileTransferEnded
)
