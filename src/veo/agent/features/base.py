"""What every per-session feature of the agent looks like to the app (``app.py``).

A feature is an engine on the loop thread, attached to the session, and its window(s) on the Tk
thread. The app keeps a list of them (:func:`veo.agent.features.default_features`, as mitmproxy
keeps its addons) and loops over it: ``attach`` when the session exists, ``start`` after Allow
(and again when the user grants more), every event a feature names in ``EVENTS`` goes to its
``handle``, and ``close`` at the session's end. The app names no feature in these steps.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from veo.agent.events import UiEvent
from veo.agent.loop_thread import LoopThread
from veo.agent.ui.common import Fonts
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Joined

if TYPE_CHECKING:
    from veo.agent.session import AgentSession
    from veo.agent.ui.bar import SessionBar


@dataclass(frozen=True)
class Surroundings:
    """What a feature's windows need from the app, on the Tk thread."""

    root: tk.Tk
    fonts: Fonts
    language: str
    gettext: Callable[[str], str]
    ngettext: Callable[[str, str, int], str]
    loop: LoopThread
    #: where the engines post their events (the app's queue, drained on the Tk thread)
    post: Callable[[UiEvent], None]
    #: who joined (``None`` before the consent dialog), with display names
    joined: Callable[[], Joined | None]
    #: the session bar while the session runs (``None`` before Allow and after the end)
    bar: Callable[[], SessionBar | None]


class Feature(Protocol):
    #: the kinds of ``UiEvent`` this feature handles (a test holds every event to one owner)
    EVENTS: ClassVar[tuple[type, ...]]

    def attach(self, session: AgentSession) -> None:
        """On the loop thread, once the session exists: build the engine on it."""

    def start(self, granted: tuple[Permission, ...]) -> None:
        """On the Tk thread, after Allow with what the user granted, or with what a later answer added."""

    def handle(self, event: UiEvent) -> None:
        """On the Tk thread: one of :attr:`EVENTS`."""

    def close(self) -> None:
        """On the Tk thread, at the session's end: windows closed, what was held forgotten."""
