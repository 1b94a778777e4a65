"""Data-channel messages, end to end between console and agent (label ``veo``, ordered).

The server never sees these. The agent validates each one and then asks its policy whether the
user's grant allows it; anything else is dropped and logged (``veo.agent.policy``).

Coordinates are pixels of the agent's captured screen (announced in ``screen``); the console maps
its video element to them, so scaling the video never shifts a click.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from veo.protocol.annotation import Annotate, Erase, TechPointer
from veo.protocol.base import Message, parse, type_names
from veo.protocol.chat import Chat, ChatRead
from veo.protocol.cursor import Cursor, CursorShape
from veo.protocol.monitors import Monitors, SelectMonitor
from veo.protocol.permissions import Permission
from veo.protocol.sysinfo import Sysinfo, SysinfoDeclined, SysinfoRequest
from veo.protocol.transfer import (
    ClipboardText,
    FileAccept,
    FileCancel,
    FileDone,
    FileOffer,
    FileProgress,
    FileReject,
)

DATA_CHANNEL_LABEL = "veo"
Coord = Annotated[int, Field(ge=0, le=32767)]
Button = Literal["left", "middle", "right"]


# ---------------------------------------------------------------- console -> agent (input)


class PointerMove(Message):
    type: Literal["pointer_move"] = "pointer_move"
    x: Coord
    y: Coord


class PointerButton(Message):
    type: Literal["pointer_button"] = "pointer_button"
    x: Coord
    y: Coord
    button: Button
    down: bool


class Wheel(Message):
    """Scroll by whole notches; positive ``dy`` scrolls down, positive ``dx`` right."""

    type: Literal["wheel"] = "wheel"
    x: Coord
    y: Coord
    dx: Annotated[int, Field(ge=-100, le=100)] = 0
    dy: Annotated[int, Field(ge=-100, le=100)] = 0


class Key(Message):
    """A physical key going down or up, named as the DOM does (``key`` "a", "Enter"; ``code`` "KeyA")."""

    type: Literal["key"] = "key"
    key: Annotated[str, Field(min_length=1, max_length=32)]
    code: Annotated[str, Field(max_length=32)] = ""
    down: bool


class Text(Message):
    """Text typed as characters (paste, IME, characters absent from the remote layout)."""

    type: Literal["text"] = "text"
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class ReleaseAll(Message):
    """Console lost focus: release every key and button it holds down."""

    type: Literal["release_all"] = "release_all"


# ---------------------------------------------------------------- console -> agent (video)


class View(Message):
    """Console -> agent: how large the console shows the screen, in device pixels.

    With ``zoom`` ``fit`` the agent scales a larger picture down to fit inside ``width`` x
    ``height`` before encoding (never up); ``full`` asks for full resolution (1:1). Coordinates
    stay the screen's either way (``screen``).
    """

    type: Literal["view"] = "view"
    width: Annotated[int, Field(ge=16, le=16384)]
    height: Annotated[int, Field(ge=16, le=16384)]
    zoom: Literal["fit", "full"] = "fit"


# ---------------------------------------------------------------- agent -> console


class Screen(Message):
    """The coordinate space of the video and of every coordinate sent after it.

    ``x``/``y`` is where it sits on the user's desktop (a monitor's origin, or 0,0 for the
    whole desktop); console coordinates are relative to it.
    """

    type: Literal["screen"] = "screen"
    x: Annotated[int, Field(ge=-32768, le=32767)] = 0
    y: Annotated[int, Field(ge=-32768, le=32767)] = 0
    width: Annotated[int, Field(ge=1, le=32767)]
    height: Annotated[int, Field(ge=1, le=32767)]


#: What control still waits for: the user's Allow, the technician's "Codes match", the identity.
Pending = Literal["consent", "technician_sas", "identity"]


class Control(Message):
    """What the agent lets the console do right now; input is sent only while ``active``.

    ``waiting_for`` says why control is not active yet although granted, so the console can tell
    the technician what to do (click "Codes match", record the user's identity).
    """

    type: Literal["control"] = "control"
    granted: list[Permission]
    paused: bool
    active: bool
    waiting_for: Annotated[list[Pending], Field(max_length=3)] = []


class Dropped(Message):
    """The agent refused a message; the console shows why (rate limited to one per reason)."""

    type: Literal["dropped"] = "dropped"
    reason: Annotated[str, Field(max_length=120)]


# ---------------------------------------------------------------- both ways, and the resume key


class Desktop(Message):
    """Agent -> console, once after the user's Allow: what the user's desktop lets veo do.

    The console says each limit in the technician's language (codes as in
    ``veo.agent.backend.Reason``): a Wayland desktop without remote control, control switched
    off in the desktop's own dialog, drawings that show only in the console, no stop key.
    """

    type: Literal["desktop"] = "desktop"
    backend: Literal["x11", "portal"]
    control: bool
    limits: Annotated[
        list[
            Literal[
                "no_remote_desktop",
                "control_refused",
                "control_at_start",
                "no_overlay",
                "no_stop_key",
                "pointer_in_picture",
            ]
        ],
        Field(max_length=8),
    ] = []


class Heartbeat(Message):
    """Sent every ``resume.HEARTBEAT_SECONDS`` by both sides: silence means the connection is lost.

    Any message counts as a sign of life; this one is for when nothing else is said.
    """

    type: Literal["heartbeat"] = "heartbeat"


class ResumeKey(Message):
    """Agent -> console, inside the verified end-to-end channel only: the session's resume key
    (``veo.protocol.resume``). The server never sees it."""

    type: Literal["resume_key"] = "resume_key"
    key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


InputMessage = Annotated[
    PointerMove | PointerButton | Wheel | Key | Text | ReleaseAll, Field(discriminator="type")
]
#: Everything the console may send on the data channel; :data:`NEEDS` says what each requires.
ConsoleDataMessage = Annotated[
    PointerMove
    | PointerButton
    | Wheel
    | Key
    | Text
    | ReleaseAll
    | Chat
    | ChatRead
    | Annotate
    | Erase
    | TechPointer
    | ClipboardText
    | FileOffer
    | FileAccept
    | FileReject
    | FileProgress
    | FileCancel
    | FileDone
    | SelectMonitor
    | View
    | SysinfoRequest
    | Heartbeat,
    Field(discriminator="type"),
]
AgentDataMessage = Annotated[
    Screen
    | Control
    | Dropped
    | Chat
    | ChatRead
    | CursorShape
    | Cursor
    | ClipboardText
    | FileOffer
    | FileAccept
    | FileReject
    | FileProgress
    | FileCancel
    | FileDone
    | Monitors
    | Sysinfo
    | SysinfoDeclined
    | Desktop
    | Heartbeat
    | ResumeKey,
    Field(discriminator="type"),
]

#: What the agent's policy requires before it acts on a console message:
#: ``control`` = the full control check (grant, both codes, identity, not paused);
#: a :class:`Permission` = consented and that permission granted (clipboard and files also need
#: the technician's "Codes match", as they move data); ``consent`` = the user pressed Allow;
#: ``nothing``: a sign of life that carries nothing (``heartbeat``), accepted at any time.
Need = Literal["control", "view", "clipboard", "files", "consent", "nothing"]
NEEDS: dict[str, Need] = {
    "pointer_move": "control",
    "pointer_button": "control",
    "wheel": "control",
    "key": "control",
    "text": "control",
    "release_all": "control",
    "chat": "consent",
    "chat_read": "consent",
    "annotate": "view",
    "annotate_erase": "view",
    "tech_pointer": "view",
    "select_monitor": "view",
    "view": "view",
    "clipboard": "clipboard",
    "file_offer": "files",
    "file_accept": "files",
    "file_reject": "files",
    "file_progress": "files",
    "file_cancel": "files",
    "file_done": "files",
    "sysinfo_request": "consent",
    "heartbeat": "nothing",
}
INPUT_TYPES = type_names(InputMessage)

_input_adapter: TypeAdapter[InputMessage] = TypeAdapter(InputMessage)
_console_data_adapter: TypeAdapter[ConsoleDataMessage] = TypeAdapter(ConsoleDataMessage)
_console_data_types = type_names(ConsoleDataMessage)
_agent_data_adapter: TypeAdapter[AgentDataMessage] = TypeAdapter(AgentDataMessage)
_agent_data_types = type_names(AgentDataMessage)


def parse_input_message(raw: str | bytes) -> InputMessage:
    return parse(raw, _input_adapter, INPUT_TYPES)


def parse_console_data_message(raw: str | bytes) -> ConsoleDataMessage:
    return parse(raw, _console_data_adapter, _console_data_types)


def parse_agent_data_message(raw: str | bytes) -> AgentDataMessage:
    return parse(raw, _agent_data_adapter, _agent_data_types)
