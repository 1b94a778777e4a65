"""The agent's chat state: lines both ways, unread count, read receipts, nothing sent when closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veo.agent.chat import AgentChat
from veo.agent.events import ChatAcknowledged, ChatLine, ChatUnread, UiEvent
from veo.protocol.chat import Chat, ChatRead
from veo.protocol.datachannel import AgentDataMessage, Need


class FakePeer:
    """The session's side as the chat sees it: handlers by type, what was sent."""

    def __init__(self, open_: bool = True, consented: bool = True) -> None:
        self.handlers: dict[str, Callable[[Any], None]] = {}
        self.sent: list[AgentDataMessage] = []
        self.open = open_
        self.consented = consented

    def on_data(self, message_type: str, handler: Callable[[Any], None]) -> None:
        self.handlers[message_type] = handler

    def send_data(self, message: AgentDataMessage) -> None:
        self.sent.append(message)

    def data_open(self) -> bool:
        return self.open

    def allows(self, need: Need) -> bool:
        return self.consented


def make(**kwargs: bool) -> tuple[AgentChat, FakePeer, list[UiEvent]]:
    peer = FakePeer(**kwargs)
    events: list[UiEvent] = []
    return AgentChat(peer, events.append), peer, events


def test_registers_both_console_types() -> None:
    _chat, peer, _events = make()
    assert set(peer.handlers) == {"chat", "chat_read"}


def test_received_lines_count_as_unread_until_seen() -> None:
    chat, peer, events = make()
    peer.handlers["chat"](Chat(id="c1", text="Hola"))
    peer.handlers["chat"](Chat(id="c2", text="¿Me ve?"))
    assert chat.unread == 2
    assert ChatLine("c1", False, "Hola") in events
    assert events[-1] == ChatUnread(2)
    chat.mark_read()
    assert chat.unread == 0
    assert events[-1] == ChatUnread(0)
    assert peer.sent == [ChatRead(id="c2")]
    chat.mark_read()  # nothing new: no second receipt
    assert peer.sent == [ChatRead(id="c2")]


def test_duplicate_id_is_shown_once() -> None:
    chat, peer, _events = make()
    peer.handlers["chat"](Chat(id="c1", text="one"))
    peer.handlers["chat"](Chat(id="c1", text="one again"))
    assert [line.text for line in chat.lines] == ["one"]
    assert chat.unread == 1


def test_send_goes_out_with_a_valid_id_and_is_drawn() -> None:
    chat, peer, events = make()
    assert chat.send("  Sí, gracias  ")
    (sent,) = peer.sent
    assert isinstance(sent, Chat)
    assert sent.text == "Sí, gracias"
    Chat.model_validate_json(sent.dumps())  # the id matches the protocol's pattern
    assert events[-1] == ChatLine(sent.id, True, "Sí, gracias")
    assert chat.lines[-1].mine


def test_nothing_leaves_while_the_channel_is_closed() -> None:
    chat, peer, events = make(open_=False)
    assert not chat.send("hello")
    assert peer.sent == []
    assert events == [ChatLine("", True, "hello", failed=True)]
    assert chat.lines == []


def test_nothing_leaves_without_consent() -> None:
    chat, peer, _events = make(consented=False)
    assert not chat.send("hello")
    assert peer.sent == []


def test_empty_text_is_not_sent() -> None:
    chat, peer, events = make()
    assert not chat.send("   ")
    assert peer.sent == [] and events == []


def test_long_text_is_cut_to_the_protocol_limit() -> None:
    chat, peer, _events = make()
    chat.send("x" * 5000)
    (sent,) = peer.sent
    assert isinstance(sent, Chat) and len(sent.text) == 4000


def test_acknowledgement_only_for_our_own_lines() -> None:
    chat, peer, events = make()
    chat.send("hello")
    sent = peer.sent[0]
    assert isinstance(sent, Chat)
    peer.handlers["chat_read"](ChatRead(id="unknown"))
    assert not any(isinstance(e, ChatAcknowledged) for e in events)
    peer.handlers["chat_read"](ChatRead(id=sent.id))
    assert events[-1] == ChatAcknowledged(sent.id)
