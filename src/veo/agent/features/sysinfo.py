"""System information: ``agent/sysinfo.py`` collects on the session, ``ui/sysinfo.py`` shows it and asks."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from veo.agent.events import SysinfoAsk, SysinfoClosed, UiEvent
from veo.agent.features.base import Surroundings
from veo.agent.sysinfo import DEFAULT_PROGRAMS, AgentSysinfo
from veo.agent.ui.sysinfo import SysinfoWindow
from veo.protocol.permissions import Permission

if TYPE_CHECKING:
    from veo.agent.session import AgentSession


class SysinfoFeature:
    EVENTS: ClassVar[tuple[type, ...]] = (SysinfoAsk, SysinfoClosed)

    def __init__(self, around: Surroundings, programs: tuple[str, ...] = DEFAULT_PROGRAMS) -> None:
        self._around = around
        self._programs = programs
        self.engine: AgentSysinfo | None = None
        self.window: SysinfoWindow | None = None

    def attach(self, session: AgentSession) -> None:
        self.engine = AgentSysinfo(session, self._around.post, self._programs)

    def start(self, granted: tuple[Permission, ...]) -> None:
        """Nothing until the technician asks (the session's policy holds the grant)."""

    def handle(self, event: UiEvent) -> None:
        self._close_window()
        around = self._around
        sysinfo, joined = self.engine, around.joined()
        if not isinstance(event, SysinfoAsk) or sysinfo is None or joined is None or around.bar() is None:
            return

        def answer(send: bool) -> None:
            self._close_window()
            around.loop.call(sysinfo.send if send else sysinfo.decline)

        self.window = SysinfoWindow(
            around.root,
            around.fonts,
            around.language,
            joined.technician_name,
            event.info,
            on_send=lambda: answer(True),
            on_decline=lambda: answer(False),
        )

    def _close_window(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None

    def close(self) -> None:
        self._close_window()
        if self.engine is not None:  # forget what was collected and not sent
            self._around.loop.call(self.engine.close)
