"""File transfer on the agent, both directions, only while the user's grant allows ``files``.

The JSON messages of :mod:`veo.protocol.transfer` (offer, accept, reject, progress, cancel, done)
travel on the main data channel and are judged by the policy like every console message. The
bytes travel as binary frames (``id | offset | payload``) on a second ordered channel
(:data:`~veo.protocol.transfer.FILE_CHANNEL_LABEL`) that the agent creates before its offer;
those frames are judged here with the same rule (``dropped type=file_chunk reason=<r>``).

Receiving (console -> user): the user accepts each offer and picks the folder; bytes go to a
hidden temporary file in that folder, hashed as they arrive, and only when every byte is there and
the SHA-256 equals the offer's is the file linked under its sanitized name (never replacing an
existing file). A cancel, a failure or the session's end deletes the temporary file: nothing
partial is ever left. Sending (user -> console): the file is hashed, offered, and after the
console's accept sent in 16 KiB frames with two brakes, the channel's ``bufferedAmount`` and the
receiver's ``file_progress`` as a window of unacknowledged bytes.

Log lines (stable, the tests read them): ``file offered id= name= bytes=``, ``file received id=
path= bytes= sha256=``, ``file sent id= bytes=``, ``file progress id= bytes=``, ``file cancelled
id= by=``, ``file failed id= reason=``, ``file refused id= reason=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from veo.agent.events import (
    FileOffered,
    FileTransferEnded,
    FileTransferProgress,
    FileTransferStarted,
    UiEvent,
)
from veo.agent.policy import Policy
from veo.protocol.datachannel import AgentDataMessage
from veo.protocol.signaling import Joined
from veo.protocol.transfer import (
    DEFAULT_MAX_FILE_BYTES,
    FILE_CHANNEL_LABEL,
    MAX_CHUNK,
    FileAccept,
    FileCancel,
    FileDone,
    FileOffer,
    FileProgress,
    FileReject,
    FrameError,
    candidates,
    pack_chunk,
    safe_name,
    unpack_chunk,
)
from veo.tasks import spawn

log = logging.getLogger(__name__)

#: The receiver acknowledges (``file_progress``) at least this often.
PROGRESS_EVERY = 256 * 1024
#: The sender keeps at most this many unacknowledged bytes in flight.
WINDOW = 2 * 1024 * 1024
#: ... and waits whenever the channel's own buffer holds more than this.
BUFFER_HIGH = 1024 * 1024
BUFFER_LOW = 256 * 1024
#: Offers waiting for the user, and transfers at once: a console cannot fill the screen with dialogs.
MAX_PENDING = 4
#: At most one ``dropped type=file_chunk`` line per reason per this many seconds.
DROP_LOG_EVERY = 2.0


def default_folder() -> Path:
    """Where an accepted file goes unless the user chooses otherwise: ``~/Downloads``."""
    return Path.home() / "Downloads"


def inside(folder: Path, path: Path) -> bool:
    """Whether ``path`` resolves to an entry directly inside ``folder`` (symlinks followed)."""
    return path.resolve().parent == folder.resolve()


def _log_progress(transfer_id: str, size: int, before: int, after: int) -> None:
    """``file progress`` at every tenth of the file (for support staff and the tests)."""
    if size and after * 10 // size > before * 10 // size:
        log.info("file progress id=%s bytes=%d of=%d", transfer_id, after, size)


#: A temporary file this old is left over from an agent that was killed mid-transfer.
STALE_PART_SECONDS = 24 * 3600


def remove_stale_parts(folder: Path, now: float | None = None) -> None:
    """Delete our own leftovers (``.veo-*.part`` older than a day): a killed agent could not."""
    now = time.time() if now is None else now
    for part in folder.glob(".veo-*.part"):
        with contextlib.suppress(OSError):
            if part.is_file() and not part.is_symlink() and now - part.stat().st_mtime > STALE_PART_SECONDS:
                part.unlink()


class TransferError(Exception):
    """A transfer cannot go on; ``reason`` is the stable word sent to the peer and logged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Incoming:
    """One file coming from the console: offered -> receiving -> done (or discarded).

    Bytes are accepted only in order (the offset must be the next byte expected) and never past
    the offered size; :meth:`finish` links the file into place only if the SHA-256 matches.
    """

    offer: FileOffer
    name: str
    state: Literal["offered", "receiving", "done", "discarded"] = "offered"
    received: int = 0
    acked: int = 0
    folder: Path | None = None
    temp: Path | None = None
    _file: BinaryIO | None = None
    _hash: Any = field(default_factory=hashlib.sha256)

    def start(self, folder: Path) -> None:
        """Accepted: open the hidden temporary file in ``folder`` (created if missing)."""
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_parts(folder)
        fd, temp = tempfile.mkstemp(prefix=".veo-", suffix=".part", dir=folder)
        self.folder, self.temp = folder.resolve(), Path(temp)
        self._file = os.fdopen(fd, "wb")
        self.state = "receiving"

    def write(self, offset: int, payload: bytes) -> None:
        if self.state != "receiving" or self._file is None:
            raise TransferError("not_receiving")
        if offset != self.received:
            raise TransferError("out_of_order")
        if self.received + len(payload) > self.offer.size:
            raise TransferError("too_long")
        self._file.write(payload)
        self._hash.update(payload)
        self.received += len(payload)

    @property
    def complete(self) -> bool:
        return self.state == "receiving" and self.received == self.offer.size

    def finish(self) -> Path:
        """Every byte arrived: check the SHA-256, then link the file under a free name."""
        assert self._file is not None and self.temp is not None and self.folder is not None
        self._file.close()
        self._file = None
        if self._hash.hexdigest() != self.offer.sha256:
            self.discard()
            raise TransferError("checksum_mismatch")
        for name in candidates(self.name):
            target = self.folder / name
            if not inside(self.folder, target):
                continue
            try:
                os.link(self.temp, target)  # fails if the name exists: nothing is ever replaced
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links
                if target.exists():
                    continue
                os.replace(self.temp, target)
            self.temp.unlink(missing_ok=True)
            self.temp = None
            self.state = "done"
            return target
        self.discard()
        raise TransferError("no_free_name")

    def discard(self) -> None:
        """Forget the transfer and delete its temporary file (cancel, failure, session end)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self.temp is not None:
            with contextlib.suppress(OSError):
                self.temp.unlink(missing_ok=True)
            self.temp = None
        if self.state != "done":
            self.state = "discarded"


@dataclass
class Outgoing:
    """One file going to the console: offered -> sending -> done."""

    id: str
    path: Path
    name: str
    size: int
    sha256: str
    sent: int = 0
    acked: int = 0
    state: Literal["offered", "sending", "sent", "ended"] = "offered"
    task: asyncio.Task[None] | None = None


def file_sha256(path: Path, limit: int) -> tuple[int, str]:
    """Size and SHA-256 of a regular file of at most ``limit`` bytes (runs on a worker thread)."""
    if not path.is_file():
        raise OSError("not a regular file")
    if path.stat().st_size > limit:
        raise TransferError("too_large")
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
            size += len(block)
    if size > limit:
        raise TransferError("too_large")
    return size, digest.hexdigest()


class TransferPeer(Protocol):
    """What the transfers need from the session (``AgentSession`` is one)."""

    policy: Policy

    def on_data(self, message_type: str, handler: Callable[[Any], None]) -> None: ...

    def send_data(self, message: AgentDataMessage) -> None: ...

    def on_peer(self, hook: Callable[[Any], None]) -> None: ...

    def on_end(self, hook: Callable[[], None]) -> None: ...

    def on_lost(self, hook: Callable[[], None]) -> None: ...

    @property
    def joined(self) -> Joined | None: ...


class AgentFiles:
    """Every transfer of one session, on its event loop; windows reach it via ``LoopThread.call``."""

    def __init__(
        self, peer: TransferPeer, post: Callable[[UiEvent], None], max_bytes: int | None = None
    ) -> None:
        self._peer = peer
        self._post = post
        self._max_bytes = max_bytes
        self.incoming: dict[str, Incoming] = {}
        self.outgoing: dict[str, Outgoing] = {}
        self._dc: Any = None
        self._wake = asyncio.Event()
        self._drop_logged: dict[str, float] = {}
        for kind, handler in (
            ("file_offer", self._on_offer),
            ("file_accept", self._on_accept),
            ("file_reject", self._on_reject),
            ("file_progress", self._on_progress),
            ("file_cancel", self._on_cancel),
            ("file_done", self._on_done),
        ):
            peer.on_data(kind, handler)
        peer.on_peer(self.attach)  # again on every new peer connection (a resumed session)
        peer.on_end(self.close)
        peer.on_lost(self.interrupt)

    @property
    def max_bytes(self) -> int:
        """The role policy's limit, as the server sent it in ``joined``."""
        if self._max_bytes is not None:
            return self._max_bytes
        joined = self._peer.joined
        return joined.max_file_bytes if joined is not None else DEFAULT_MAX_FILE_BYTES

    # ------------------------------------------------------------ the binary channel

    def attach(self, pc: Any) -> None:
        """Create the file channel on ``pc`` (before the offer: the console only answers)."""
        dc = pc.createDataChannel(FILE_CHANNEL_LABEL, ordered=True)
        dc.bufferedAmountLowThreshold = BUFFER_LOW
        dc.on("message", lambda raw: self._on_frame(raw) if dc is self._dc else None)  # not a lost one
        dc.on("bufferedamountlow", self._wake.set)
        self._dc = dc

    def _drop_frame(self, reason: str) -> None:
        now = time.monotonic()
        last = self._drop_logged.get(reason)
        if last is None or now - last >= DROP_LOG_EVERY:
            self._drop_logged[reason] = now
            log.warning("dropped type=file_chunk reason=%s", reason)

    def _on_frame(self, raw: str | bytes) -> None:
        """One frame of the file channel; never raises into aiortc's receive task (see session)."""
        try:
            self._take_frame(raw)
        except Exception:
            log.exception("dropped a file frame that could not be handled")

    def _take_frame(self, raw: str | bytes) -> None:
        refusal = self._peer.policy.refusal_for("files")
        if refusal is not None:
            self._drop_frame(refusal)
            return
        if not isinstance(raw, bytes):
            self._drop_frame("invalid")
            return
        try:
            transfer_id, offset, payload = unpack_chunk(raw)
        except FrameError:
            self._drop_frame("invalid")
            return
        incoming = self.incoming.get(transfer_id)
        if incoming is None or incoming.state != "receiving":
            self._drop_frame("unknown_transfer")
            return
        try:
            incoming.write(offset, payload)
        except (TransferError, OSError) as exc:
            reason = exc.reason if isinstance(exc, TransferError) else "write_failed"
            self._fail_incoming(incoming, reason)
            return
        if incoming.complete:
            self._complete(incoming)
        elif incoming.received - incoming.acked >= PROGRESS_EVERY:
            self._ack(incoming)

    def _ack(self, incoming: Incoming) -> None:
        _log_progress(incoming.offer.id, incoming.offer.size, incoming.acked, incoming.received)
        incoming.acked = incoming.received
        self._peer.send_data(FileProgress(id=incoming.offer.id, received=incoming.received))
        self._post(FileTransferProgress(incoming.offer.id, incoming.received))

    def _complete(self, incoming: Incoming) -> None:
        offer = incoming.offer
        self._ack(incoming)
        try:
            path = incoming.finish()
        except (TransferError, OSError) as exc:
            reason = exc.reason if isinstance(exc, TransferError) else "write_failed"
            log.warning("file failed id=%s reason=%s", offer.id, reason)
            self.incoming.pop(offer.id, None)
            self._peer.send_data(FileDone(id=offer.id, ok=False))
            self._post(FileTransferEnded(offer.id, "failed", reason))
            return
        self.incoming.pop(offer.id, None)
        log.info("file received id=%s path=%s bytes=%d sha256=%s", offer.id, path, offer.size, offer.sha256)
        self._peer.send_data(FileDone(id=offer.id, ok=True))
        self._post(FileTransferEnded(offer.id, "done", str(path)))

    def _fail_incoming(self, incoming: Incoming, reason: str) -> None:
        incoming.discard()
        self.incoming.pop(incoming.offer.id, None)
        log.warning("file failed id=%s reason=%s", incoming.offer.id, reason)
        self._peer.send_data(FileCancel(id=incoming.offer.id, reason=reason))
        self._post(FileTransferEnded(incoming.offer.id, "failed", reason))

    # ------------------------------------------------------------ console -> user

    def _on_offer(self, offer: FileOffer) -> None:
        def refuse(reason: str) -> None:
            log.warning("file refused id=%s reason=%s", offer.id, reason)
            self._peer.send_data(FileReject(id=offer.id, reason=reason))

        if offer.id in self.incoming or offer.id in self.outgoing:
            refuse("duplicate_id")
        elif offer.size > self.max_bytes:
            refuse("too_large")
        elif len(self.incoming) >= MAX_PENDING:
            refuse("busy")
        else:
            name = safe_name(offer.name)
            self.incoming[offer.id] = Incoming(offer, name)
            log.info("file offered id=%s name=%s bytes=%d", offer.id, name, offer.size)
            self._post(FileOffered(offer.id, name, offer.size, str(default_folder())))

    def accept(self, transfer_id: str, folder: str) -> None:
        """The user pressed Accept in the offer dialog (with the folder shown there)."""
        incoming = self.incoming.get(transfer_id)
        if incoming is None or incoming.state != "offered":
            return
        if not self._peer.policy.allows("files"):
            self._fail_incoming(incoming, "files_not_granted")
            return
        try:
            incoming.start(Path(folder).expanduser())
        except OSError as exc:
            log.warning("cannot write to %s: %s", folder, exc)
            self._fail_incoming(incoming, "cannot_write")
            return
        log.info("file accepted id=%s folder=%s", transfer_id, incoming.folder)
        self._peer.send_data(FileAccept(id=transfer_id))
        self._post(FileTransferStarted(transfer_id, incoming.name, incoming.offer.size, outgoing=False))
        if incoming.complete:  # an empty file
            self._complete(incoming)

    def decline(self, transfer_id: str) -> None:
        incoming = self.incoming.pop(transfer_id, None)
        if incoming is None:
            return
        incoming.discard()
        log.info("file declined id=%s", transfer_id)
        self._peer.send_data(FileReject(id=transfer_id, reason="declined"))

    # ------------------------------------------------------------ user -> console

    def send_file(self, path: str) -> None:
        """The user chose a file to send: hash it off the loop, then offer it."""
        spawn(self._offer_file(Path(path)), name="veo-agent-file-offer")

    async def _offer_file(self, path: Path) -> None:
        refusal = self._peer.policy.refusal_for("files")
        if refusal is not None:
            log.warning("file not sent: %s", refusal)
            self._post(FileTransferEnded("", "failed", refusal))
            return
        if len(self.outgoing) >= MAX_PENDING:
            self._post(FileTransferEnded("", "failed", "busy"))
            return
        try:
            size, digest = await asyncio.to_thread(file_sha256, path, self.max_bytes)
        except TransferError as exc:
            log.warning("file not sent: %s", exc.reason)
            self._post(FileTransferEnded("", "failed", exc.reason))
            return
        except OSError as exc:
            log.warning("file not sent: cannot read %s: %s", path, exc)
            self._post(FileTransferEnded("", "failed", "cannot_read"))
            return
        out = Outgoing(secrets.token_hex(16), path, safe_name(path.name), size, digest)
        self.outgoing[out.id] = out
        log.info("file offered to the console id=%s name=%s bytes=%d", out.id, out.name, size)
        self._peer.send_data(FileOffer(id=out.id, name=out.name, size=size, sha256=digest))
        self._post(FileTransferStarted(out.id, out.name, size, outgoing=True))

    def _on_accept(self, message: FileAccept) -> None:
        out = self.outgoing.get(message.id)
        if out is None or out.state != "offered":
            return
        out.state = "sending"
        out.task = spawn(self._pump(out), name="veo-agent-file-send")

    async def _pump(self, out: Outgoing) -> None:
        """Send the bytes in order, never more than the window ahead nor over the buffer mark."""
        try:
            with out.path.open("rb") as f:
                while out.sent < out.size:
                    if not self._peer.policy.allows("files"):
                        raise TransferError("files_not_granted")
                    dc = self._dc
                    if dc is None or dc.readyState != "open":
                        raise TransferError("channel_closed")
                    if out.sent - out.acked >= WINDOW or dc.bufferedAmount > BUFFER_HIGH:
                        self._wake.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), 1.0)
                        continue
                    chunk = f.read(min(MAX_CHUNK, out.size - out.sent))
                    if not chunk:
                        raise TransferError("file_changed")
                    dc.send(pack_chunk(out.id, out.sent, chunk))
                    out.sent += len(chunk)
                    if out.sent % (8 * MAX_CHUNK) == 0:
                        await asyncio.sleep(0)  # let acknowledgements and the video through
        except asyncio.CancelledError:
            return
        except (TransferError, OSError) as exc:
            reason = exc.reason if isinstance(exc, TransferError) else "cannot_read"
            self._end_outgoing(out, "failed", reason, tell=True)
            return
        out.state = "sent"
        log.info("file sent id=%s bytes=%d", out.id, out.sent)

    def _on_progress(self, message: FileProgress) -> None:
        out = self.outgoing.get(message.id)
        if out is None:
            return
        acked = min(message.received, out.sent)
        _log_progress(out.id, out.size, out.acked, acked)
        out.acked = acked
        self._wake.set()
        self._post(FileTransferProgress(out.id, out.acked))

    def _on_done(self, message: FileDone) -> None:
        out = self.outgoing.get(message.id)
        if out is None:
            return
        if message.ok:
            log.info("file delivered id=%s bytes=%d sha256=%s", out.id, out.size, out.sha256)
            self._end_outgoing(out, "done", "")
        else:
            self._end_outgoing(out, "failed", "checksum_mismatch")

    def _on_reject(self, message: FileReject) -> None:
        out = self.outgoing.get(message.id)
        if out is not None:
            self._end_outgoing(out, "rejected", message.reason)

    def _end_outgoing(self, out: Outgoing, outcome: str, reason: str, tell: bool = False) -> None:
        self.outgoing.pop(out.id, None)
        out.state = "ended"
        if out.task is not None and out.task is not asyncio.current_task():
            out.task.cancel()
        if tell:
            self._peer.send_data(FileCancel(id=out.id, reason=reason))
        if outcome == "failed":
            log.warning("file failed id=%s reason=%s", out.id, reason)
        self._post(FileTransferEnded(out.id, outcome, reason))

    # ------------------------------------------------------------ cancel, either side

    def _on_cancel(self, message: FileCancel) -> None:
        self._cancel(message.id, by="technician", tell=False)

    def cancel(self, transfer_id: str) -> None:
        """The user pressed Cancel on a transfer's progress window (or declined mid-way)."""
        self._cancel(transfer_id, by="user", tell=True)

    def _cancel(self, transfer_id: str, by: str, tell: bool) -> None:
        incoming = self.incoming.pop(transfer_id, None)
        out = self.outgoing.pop(transfer_id, None)
        if incoming is None and out is None:
            return
        if incoming is not None:
            incoming.discard()
        if out is not None:
            out.state = "ended"
            if out.task is not None:
                out.task.cancel()
        log.info("file cancelled id=%s by=%s", transfer_id, by)
        if tell:
            self._peer.send_data(FileCancel(id=transfer_id, reason="cancelled"))
        self._post(FileTransferEnded(transfer_id, "cancelled", by))

    def close(self) -> None:
        """The session ended: every partial file is deleted, every sender stopped."""
        self._stop_all("session_ended")

    def interrupt(self) -> None:
        """The connection was lost (the session may come back on a new one): the transfers on the
        old file channel cannot continue; each partial file is deleted and the user is told."""
        if self.incoming or self.outgoing:
            log.info("file transfers stopped: the connection was lost")
        self._stop_all("connection_lost")
        self._dc = None

    def _stop_all(self, why: str) -> None:
        for incoming in list(self.incoming.values()):
            incoming.discard()
            self._post(FileTransferEnded(incoming.offer.id, "cancelled", why))
        for out in list(self.outgoing.values()):
            out.state = "ended"
            if out.task is not None:
                out.task.cancel()
            self._post(FileTransferEnded(out.id, "cancelled", why))
        self.incoming.clear()
        self.outgoing.clear()
