"""The user's grant, enforced on the agent for every data-channel message.

The console and the server are not trusted to respect the grant: whatever arrives on the data
channel is parsed here and either handed to the input backend or dropped and logged with the
stable line ``dropped type=<type> reason=<reason>`` (tests and support staff grep for it).
Checks run in a fixed order so the reason names the first thing missing:
``invalid`` -> ``not_consented`` -> ``control_not_granted`` -> ``sas_not_confirmed`` (the user) ->
``technician_not_confirmed`` (the technician's "Codes match") -> ``identity_not_confirmed`` (when
the role's policy wants the user's identity confirmed first) -> ``control_paused``.
While the connection to the console is being replaced (``reconnecting``, see
``agent/resuming.py``) everything but a heartbeat is dropped with reason ``reconnecting``,
right after ``not_consented``: input is frozen until the new connection proved itself.

Control needs both sides to have compared the code: the user confirms it by pressing Allow under
the code, the technician by clicking "Codes match" (relayed by the server as
``technician_confirmed``). Trusting the server for the technician's click costs nothing: the
server could only withhold it, which keeps control off.

On a managed device (issue 17, ``agent/device_mode.py``) the technician's "Codes match" is not
waited for: the device is authenticated by its key and the technician by their account, and there
may be nobody at the computer to read a code to. :attr:`Policy.device` is set only for a session
the device's service started; it drops that one check (control, clipboard, files), never consent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from veo.agent.input.base import InputInjector
from veo.protocol.base import ProtocolError, load_json
from veo.protocol.datachannel import (
    NEEDS,
    ConsoleDataMessage,
    InputMessage,
    Key,
    Need,
    Pending,
    PointerButton,
    PointerMove,
    ReleaseAll,
    Text,
    Wheel,
    parse_console_data_message,
)
from veo.protocol.permissions import Permission, effective_permissions, ordered
from veo.protocol.signaling import TechnicianConfirmed

log = logging.getLogger(__name__)

DropReason = Literal[
    "control_not_granted",
    "view_not_granted",
    "clipboard_not_granted",
    "files_not_granted",
    "control_paused",
    "sas_not_confirmed",
    "technician_not_confirmed",
    "identity_not_confirmed",
    "not_consented",
    "invalid",
    "question_open",
    "reconnecting",
]
_TYPE_NAME = re.compile(r"^[a-z_]{1,32}$")


@dataclass(frozen=True)
class Verdict:
    """``message`` is set when allowed; otherwise ``reason`` says why it was dropped."""

    message_type: str
    message: ConsoleDataMessage | None = None
    reason: DropReason | None = None

    @property
    def allowed(self) -> bool:
        return self.message is not None


@dataclass
class Policy:
    """What the user allowed in this session; :meth:`forget` wipes it when the session ends."""

    granted: frozenset[Permission] = frozenset()
    consented: bool = False
    #: The user confirmed the code (Allow is pressed under it, as that confirmation).
    sas_confirmed: bool = False
    #: The technician clicked "Codes match" (from the server's ``technician_confirmed``).
    technician_sas_confirmed: bool = False
    identity_required: bool = False
    identity_confirmed: bool = False
    paused: bool = False
    #: A question for more permission is open on the user's screen (``agent/asking.py``): the
    #: technician's input waits, or their own click or Enter could answer it for the user.
    question_open: bool = False
    #: The peer connection was lost and its replacement is not verified yet: nothing is acted on.
    reconnecting: bool = False
    #: A session the device's own service started (``device_mode``): the technician's "Codes
    #: match" is not needed; consent still is. Kept by :meth:`forget` (a fact of the session).
    device: bool = False

    def grant(self, requested: Iterable[Permission | str], ticked: Iterable[Permission | str]) -> None:
        """Record the user's Allow: what they ticked, within what was requested."""
        self.granted = effective_permissions(requested, ticked)
        self.consented = True
        self.sas_confirmed = True
        self.paused = False

    def extend(
        self, asked: Iterable[Permission | str], ticked: Iterable[Permission | str]
    ) -> frozenset[Permission]:
        """The user accepted more mid-session: add what was asked AND ticked; returns what is new.

        Never before consent and never without *view*; the control checks (both codes, identity,
        pause) still apply to a control granted this way.
        """
        if not self.consented or Permission.VIEW not in self.granted:
            return frozenset()
        added = (frozenset(Permission(p) for p in asked) & {Permission(p) for p in ticked}) - self.granted
        self.granted = self.granted | added
        return added

    def technician(self, confirmed: TechnicianConfirmed) -> None:
        """The technician's side of the checks, as the server last reported it."""
        self.technician_sas_confirmed = confirmed.sas_confirmed
        self.identity_required = confirmed.identity_required
        self.identity_confirmed = confirmed.identity_confirmed

    def forget(self) -> None:
        self.granted = frozenset()
        self.consented = False
        self.sas_confirmed = False
        self.technician_sas_confirmed = False
        self.identity_required = False
        self.identity_confirmed = False
        self.paused = False
        self.question_open = False
        self.reconnecting = False

    @property
    def control_granted(self) -> bool:
        return self.consented and Permission.CONTROL in self.granted

    @property
    def control_active(self) -> bool:
        return self._refusal() is None

    def granted_list(self) -> list[Permission]:
        return ordered(self.granted)

    def waiting_for(self) -> list[Pending]:
        """What control still waits for (empty when active, paused or not granted at all)."""
        if self.consented and Permission.CONTROL not in self.granted:
            return []
        pending: list[Pending] = []
        if not (self.consented and self.sas_confirmed):
            pending.append("consent")
        if not (self.technician_sas_confirmed or self.device):
            pending.append("technician_sas")
        if self.identity_required and not self.identity_confirmed:
            pending.append("identity")
        return pending

    def _refusal(self) -> DropReason | None:
        if not self.consented:
            return "not_consented"
        if self.reconnecting:
            return "reconnecting"
        if Permission.CONTROL not in self.granted:
            return "control_not_granted"
        if not self.sas_confirmed:
            return "sas_not_confirmed"
        if not (self.technician_sas_confirmed or self.device):
            return "technician_not_confirmed"
        if self.identity_required and not self.identity_confirmed:
            return "identity_not_confirmed"
        if self.paused:
            return "control_paused"
        return None

    def refusal_for(self, need: Need) -> DropReason | None:
        """Why a message needing ``need`` may not be acted on now (``None``: it may)."""
        if need == "nothing":
            return None
        if need == "control":
            return self._refusal()
        if not self.consented:
            return "not_consented"
        if self.reconnecting:
            return "reconnecting"
        if need == "consent":
            return None
        if Permission(need) not in self.granted:
            return cast(DropReason, f"{need}_not_granted")
        if need in ("clipboard", "files") and not (self.technician_sas_confirmed or self.device):
            return "technician_not_confirmed"
        return None

    def allows(self, need: Need) -> bool:
        """For what the agent itself sends (clipboard, files): the same rule as for receiving."""
        return self.refusal_for(need) is None

    def judge(self, raw: str | bytes) -> Verdict:
        """Parse one data-channel message and decide by what its type needs; every drop is logged."""
        try:
            message = parse_console_data_message(raw)
        except ProtocolError as exc:
            verdict = Verdict(_guess_type(raw), reason="invalid")
            log.warning("dropped type=%s reason=invalid (%s)", verdict.message_type, exc.code)
            return verdict
        reason = self.refusal_for(NEEDS[message.type])
        if reason is None and self.question_open and NEEDS[message.type] == "control":
            # letting go of held keys and buttons stays possible; nothing else may reach the prompt
            reason = None if message.type == "release_all" else "question_open"
        if reason is not None:
            log.warning("dropped type=%s reason=%s", message.type, reason)
            return Verdict(message.type, reason=reason)
        return Verdict(message.type, message=message)


def _guess_type(raw: str | bytes) -> str:
    """The ``type`` of a message that failed validation, when it is a sane name, else ``unknown``."""
    try:
        data: Any = load_json(raw)  # bounded like the parser: json.loads recursed on deep nesting
    except ProtocolError:
        return "unknown"
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) and _TYPE_NAME.match(kind) else "unknown"


Handler = Callable[[InputInjector, Any], None]


def _pointer_move(injector: InputInjector, msg: PointerMove) -> None:
    injector.pointer_move(msg.x, msg.y)


def _pointer_button(injector: InputInjector, msg: PointerButton) -> None:
    injector.pointer_button(msg.x, msg.y, msg.button, msg.down)


def _wheel(injector: InputInjector, msg: Wheel) -> None:
    injector.wheel(msg.x, msg.y, msg.dx, msg.dy)


def _key(injector: InputInjector, msg: Key) -> None:
    injector.key(msg.key, msg.code, msg.down)


def _text(injector: InputInjector, msg: Text) -> None:
    injector.text(msg.text)


def _release_all(injector: InputInjector, _msg: ReleaseAll) -> None:
    injector.release_all()


#: message type -> what it does on the input backend
DISPATCH: dict[str, Handler] = {
    "pointer_move": _pointer_move,
    "pointer_button": _pointer_button,
    "wheel": _wheel,
    "key": _key,
    "text": _text,
    "release_all": _release_all,
}


def apply(injector: InputInjector, message: InputMessage) -> None:
    """Run an allowed message on the input backend (call it in the input thread)."""
    DISPATCH[message.type](injector, message)


@dataclass
class DropNotices:
    """At most one ``dropped`` reply per reason per interval, so a flood gets a single notice."""

    interval: float = 2.0
    _last: dict[str, float] = field(default_factory=dict)

    def should_notify(self, reason: str, now: float) -> bool:
        last = self._last.get(reason)
        if last is not None and now - last < self.interval:
            return False
        self._last[reason] = now
        return True
