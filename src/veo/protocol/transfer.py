"""Clipboard text and file transfer, both directions, each only when the user granted it.

File bytes travel on their own ordered data channel (label :data:`FILE_CHANNEL_LABEL`) as binary
frames; these JSON messages on the main channel offer, accept, pace and finish a transfer. Either
side may send any of them (the sender of ``file_offer`` is the one whose file it is).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from veo.protocol.base import Message

FILE_CHANNEL_LABEL = "veo-files"
TransferId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
MAX_CLIPBOARD_CHARS = 60_000


class ClipboardText(Message):
    type: Literal["clipboard"] = "clipboard"
    text: Annotated[str, Field(max_length=MAX_CLIPBOARD_CHARS)]


class FileOffer(Message):
    type: Literal["file_offer"] = "file_offer"
    id: TransferId
    name: Annotated[str, Field(min_length=1, max_length=255)]
    size: Annotated[int, Field(ge=0, le=2**40)]
    sha256: Sha256


class FileAccept(Message):
    type: Literal["file_accept"] = "file_accept"
    id: TransferId


class FileReject(Message):
    type: Literal["file_reject"] = "file_reject"
    id: TransferId
    reason: Annotated[str, Field(max_length=120)] = ""


class FileProgress(Message):
    """The receiver has stored ``received`` bytes: progress for both sides, and the sender's window."""

    type: Literal["file_progress"] = "file_progress"
    id: TransferId
    received: Annotated[int, Field(ge=0, le=2**40)]


class FileCancel(Message):
    type: Literal["file_cancel"] = "file_cancel"
    id: TransferId
    reason: Annotated[str, Field(max_length=120)] = ""


class FileDone(Message):
    """Sent by the receiver once every byte arrived: ``ok`` is whether the SHA-256 matched."""

    type: Literal["file_done"] = "file_done"
    id: TransferId
    ok: bool
