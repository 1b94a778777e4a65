"""Chat on the agent: the conversation's state, between the data channel and the chat window.

Runs on the session's event loop. The console's ``chat`` and ``chat_read`` messages arrive here
once the policy allowed them (they need the user's consent, nothing more); the window reaches
:meth:`AgentChat.send` and :meth:`AgentChat.mark_read` through ``LoopThread.call`` and hears back
only through ``post`` (UiEvents), so the transcript has one owner and the window just draws it.

The console keeps its own copy and attaches it to the ticket when the session ends; the window
says so before the first message (``ChatLine``'s ticket number comes from the join).

Log lines (stable, the end-to-end tests read them): ``chat received id=<id> chars=<n> unread=<n>``,
``chat sent id=<id> chars=<n>``, ``chat read id=<id>`` (the user saw the console's lines up to
it), ``chat acknowledged id=<id>`` (the technician saw ours), ``chat not sent: <why>``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from veo.agent.events import ChatAcknowledged, ChatLine, ChatUnread, UiEvent
from veo.protocol.chat import Chat, ChatRead
from veo.protocol.datachannel import AgentDataMessage, Need

log = logging.getLogger(__name__)

#: The protocol's limit on one line (``Chat.text``).
MAX_TEXT = 4000


class ChatPeer(Protocol):
    """What the chat needs from the session (``AgentSession`` is one)."""

    def on_data(self, message_type: str, handler: Callable[[Any], None]) -> None: ...

    def send_data(self, message: AgentDataMessage) -> None: ...

    def data_open(self) -> bool: ...

    def allows(self, need: Need) -> bool: ...


@dataclass(frozen=True)
class Line:
    id: str
    mine: bool  # written by the user on this computer
    text: str
    at: datetime


def new_id() -> str:
    """A message id the console can acknowledge (``^[A-Za-z0-9_-]{1,40}$``)."""
    return "a" + secrets.token_hex(8)


class AgentChat:
    """Transcript and unread count of one session's chat."""

    def __init__(self, peer: ChatPeer, post: Callable[[UiEvent], None]) -> None:
        self._peer = peer
        self._post = post
        self.lines: list[Line] = []
        self.unread = 0
        self._last_theirs: str | None = None
        self._reported: str | None = None
        peer.on_data("chat", self._on_chat)
        peer.on_data("chat_read", self._on_read)

    # ------------------------------------------------------------ from the console

    def _on_chat(self, message: Chat) -> None:
        if any(not line.mine and line.id == message.id for line in self.lines):
            log.info("chat duplicate ignored id=%s", message.id)
            return
        line = Line(message.id, False, message.text, datetime.now(UTC))
        self.lines.append(line)
        self._last_theirs = message.id
        self.unread += 1
        log.info("chat received id=%s chars=%d unread=%d", message.id, len(message.text), self.unread)
        self._post(ChatLine(line.id, False, line.text))
        self._post(ChatUnread(self.unread))

    def _on_read(self, message: ChatRead) -> None:
        if any(line.mine and line.id == message.id for line in self.lines):
            log.info("chat acknowledged id=%s", message.id)
            self._post(ChatAcknowledged(message.id))

    # ------------------------------------------------------------ from the window

    def send(self, text: str) -> bool:
        """Send the user's line; ``False`` (and nothing shown as sent) when it cannot leave now."""
        text = text.strip()[:MAX_TEXT]
        if not text:
            return False
        if not self._peer.allows("consent") or not self._peer.data_open():
            log.info("chat not sent: the connection to the technician is not open")
            self._post(ChatLine("", True, text, failed=True))
            return False
        line = Line(new_id(), True, text, datetime.now(UTC))
        self._peer.send_data(Chat(id=line.id, text=text))
        self.lines.append(line)
        log.info("chat sent id=%s chars=%d", line.id, len(text))
        self._post(ChatLine(line.id, True, text))
        return True

    def mark_read(self) -> None:
        """The user has the chat window in front of them: all lines seen, tell the technician."""
        if self.unread:
            self.unread = 0
            self._post(ChatUnread(0))
        last = self._last_theirs
        if last is not None and last != self._reported and self._peer.data_open():
            self._reported = last
            self._peer.send_data(ChatRead(id=last))
            log.info("chat read id=%s", last)
