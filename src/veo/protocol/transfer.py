"""Clipboard text and file transfer, both directions, each only when the user granted it.

File bytes travel on their own ordered data channel (label :data:`FILE_CHANNEL_LABEL`) as binary
frames; these JSON messages on the main channel offer, accept, pace and finish a transfer. Either
side may send any of them (the sender of ``file_offer`` is the one whose file it is).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field

from veo.protocol.base import Message

FILE_CHANNEL_LABEL = "veo-files"
TransferId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
MAX_CLIPBOARD_CHARS = 60_000
#: The largest file a role may move unless its policy says otherwise (the server sends its own).
DEFAULT_MAX_FILE_BYTES = 100_000_000


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


# ---------------------------------------------------------------- binary frames on FILE_CHANNEL_LABEL

#: A frame is the transfer id (16 raw bytes), the offset of the payload (8 bytes, big endian), then
#: the payload itself. Offsets let the receiver refuse anything that is not the next byte expected.
FRAME_HEADER = 24
MAX_CHUNK = 16 * 1024


class FrameError(ValueError):
    """A binary frame that cannot be a file chunk (too short, too long)."""


def pack_chunk(transfer_id: str, offset: int, payload: bytes) -> bytes:
    """One binary frame: ``id (16) | offset (8, big endian) | payload (<= MAX_CHUNK)``."""
    if len(payload) > MAX_CHUNK:
        raise FrameError(f"chunk of {len(payload)} bytes exceeds {MAX_CHUNK}")
    return bytes.fromhex(transfer_id) + offset.to_bytes(8, "big") + payload


def unpack_chunk(frame: bytes) -> tuple[str, int, bytes]:
    """``(transfer id as hex, offset, payload)`` of a frame; :class:`FrameError` if malformed."""
    if len(frame) < FRAME_HEADER:
        raise FrameError("frame shorter than its header")
    if len(frame) > FRAME_HEADER + MAX_CHUNK:
        raise FrameError("frame longer than a chunk")
    return frame[:16].hex(), int.from_bytes(frame[16:24], "big"), bytes(frame[24:])


# ---------------------------------------------------------------- names, as both receivers store them

_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}
_FORBIDDEN = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
_MAX_NAME_BYTES = 200


def safe_name(name: str) -> str:
    """A file name that can only mean one file inside a folder.

    The last path component only (``/`` and ``\\`` both count), without control or
    format characters, without characters Windows forbids, without leading/trailing dots and
    spaces (so never ``.``/``..`` nor hidden), not a reserved device name, at most 200 bytes
    (keeping the extension); ``file`` if nothing is left.
    """
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _FORBIDDEN.sub("_", base).strip(" .")
    if not base:
        base = "file"
    if base.split(".")[0].upper() in _RESERVED:
        base = "_" + base
    if len(base.encode()) > _MAX_NAME_BYTES:
        stem, dot, ext = base.rpartition(".")
        if not dot or len(ext.encode()) > 20:
            stem, ext = base, ""
        room = _MAX_NAME_BYTES - len(ext.encode()) - (1 if ext else 0)
        stem = stem.encode()[:room].decode(errors="ignore").rstrip(" .") or "file"
        base = f"{stem}.{ext}" if ext else stem
    return base


def candidates(name: str) -> Iterator[str]:
    """``name``, then ``name (1).ext``, ``name (2).ext``... (never an existing file's name)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    yield name
    for n in range(1, 10_000):
        yield f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
