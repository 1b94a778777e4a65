"""Chat: ``agent/chat.py`` on the session, ``ui/chat.py`` on the screen; the bar shows the unread count."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from veo.agent.chat import AgentChat
from veo.agent.events import ChatAcknowledged, ChatLine, ChatUnread, UiEvent
from veo.agent.features.base import Surroundings
from veo.agent.ui.chat import ChatWindow
from veo.protocol.permissions import Permission

if TYPE_CHECKING:
    from veo.agent.session import AgentSession
    from veo.agent.ui.bar import SessionBar


class ChatFeature:
    EVENTS: ClassVar[tuple[type, ...]] = (ChatLine, ChatUnread, ChatAcknowledged)

    def __init__(self, around: Surroundings) -> None:
        self._around = around
        self.engine: AgentChat | None = None
        self.window: ChatWindow | None = None

    def attach(self, session: AgentSession) -> None:
        self.engine = AgentChat(session, self._around.post)

    def start(self, granted: tuple[Permission, ...]) -> None:
        """Chat needs no grant: its window opens when a line comes or the user asks for it."""

    def bar_opened(self, bar: SessionBar) -> None:
        """A new bar says what is still unread."""
        if self.engine is not None and self.engine.unread:
            bar.show_unread(self.engine.unread)

    def open(self, focus: bool) -> None:
        around = self._around
        if self.window is None:
            chat, joined = self.engine, around.joined()
            if chat is None or joined is None:
                return
            self.window = ChatWindow(
                around.root,
                around.fonts,
                around.gettext,
                joined.technician_name,
                joined.ticket_id,
                on_send=lambda text: around.loop.call(chat.send, text),
                on_seen=lambda: around.loop.call(chat.mark_read),
                on_close=self.close,
            )
            for line in list(chat.lines):  # what came before the window was opened
                self.window.add(line.id, line.mine, line.text)
        self.window.show(focus)
        if focus and self.engine is not None:
            around.loop.call(self.engine.mark_read)

    def handle(self, event: UiEvent) -> None:
        bar = self._around.bar()
        if bar is None:  # not started, or already ended
            return
        if isinstance(event, ChatUnread):
            bar.show_unread(event.count)
        elif isinstance(event, ChatAcknowledged):
            if self.window is not None:
                self.window.show_acknowledged()
        elif isinstance(event, ChatLine):
            if self.window is None:
                self.open(focus=False)  # draws every line so far, this one included
            else:
                self.window.add(event.id, event.mine, event.text, event.failed)

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None
