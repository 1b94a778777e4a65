"""More permission mid-session: ``agent/asking.py`` on the session, ``ui/asking.py`` below the bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from veo.agent.asking import AgentAsking
from veo.agent.events import PermissionAskClosed, PermissionAsked, UiEvent
from veo.agent.features.base import Surroundings
from veo.agent.ui.asking import PermissionPrompt
from veo.agent.ui.common import PAD
from veo.protocol.permissions import Permission

if TYPE_CHECKING:
    from veo.agent.session import AgentSession


class AskingFeature:
    EVENTS: ClassVar[tuple[type, ...]] = (PermissionAsked, PermissionAskClosed)

    def __init__(self, around: Surroundings) -> None:
        self._around = around
        self.engine: AgentAsking | None = None
        self.prompt: PermissionPrompt | None = None

    def attach(self, session: AgentSession) -> None:
        self.engine = AgentAsking(session, self._around.post)

    def start(self, granted: tuple[Permission, ...]) -> None:
        """Nothing to show until the technician asks."""

    def handle(self, event: UiEvent) -> None:
        if isinstance(event, PermissionAskClosed):
            if self.prompt is not None and self.prompt.ask_id == event.id:
                self.close()
            return
        around = self._around
        asking, joined, bar = self.engine, around.joined(), around.bar()
        if not isinstance(event, PermissionAsked) or asking is None or joined is None or bar is None:
            return
        self.close()

        def answer(ask_id: str, ticked: list[Permission]) -> None:
            self.close()
            around.loop.call(asking.answer, ask_id, ticked)

        self.prompt = PermissionPrompt(
            around.root,
            around.fonts,
            around.gettext,
            around.ngettext,
            ask_id=event.id,
            technician=joined.technician_name,
            organization=joined.organization,
            permissions=event.permissions,
            timeout_seconds=event.timeout_seconds,
            on_answer=answer,
            below=bar.window.winfo_rooty() + bar.window.winfo_height() + PAD,
        )

    def close(self) -> None:
        if self.prompt is not None:
            self.prompt.close()
            self.prompt = None
