"""Chat between technician and user, both directions on the data channel (and the browser share).

The server never sees it; the console keeps the transcript and attaches it to the ticket when the
session ends (the user is told so before the first message is sent).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from veo.protocol.base import Message

MessageId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")]


class Chat(Message):
    """One chat line; ``id`` is chosen by the sender so the other side can acknowledge it."""

    type: Literal["chat"] = "chat"
    id: MessageId
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class ChatRead(Message):
    """The receiver showed the messages up to ``id`` to its person (for the unread indicator)."""

    type: Literal["chat_read"] = "chat_read"
    id: MessageId
