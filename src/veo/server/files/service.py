"""Ticket attachments: stream a file to disk under the data directory, record it, serve it back.

Only a file the technician chose to keep reaches the server (the console received it end to end
from the user, checked its SHA-256, and the technician pressed "Attach to ticket"). The body is
streamed to a hidden temporary file, counted against the role policy's ``max_file_bytes`` as it
arrives (so an oversized upload is cut off, never buffered), hashed, and renamed to a random
storage key only when complete; any failure deletes the temporary file. The user's file name is
kept only as a sanitized display/download name, never as a path.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.protocol.transfer import safe_name
from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.db.base import utcnow
from veo.server.errors import ApiError, NotFound
from veo.server.files.models import TicketAttachment
from veo.server.lang import _
from veo.server.tickets.models import Ticket


def attachments_dir(data_dir: Path) -> Path:
    return data_dir / "attachments"


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "file_too_large",
        _("The file is larger than your role allows (%(mb)s MB).") % {"mb": f"{limit / 1_000_000:g}"},
    )


@dataclass(frozen=True)
class Stored:
    """A complete upload on disk under its storage key, not yet recorded."""

    path: Path
    key: str
    size: int
    sha256: str


class _Sink:
    """The temporary file being written (blocking calls, run on a worker thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO = path.open("xb")

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def close(self) -> None:
        self.file.close()


async def store_stream(chunks: AsyncIterator[bytes], directory: Path, limit: int) -> Stored:
    """Write ``chunks`` to ``directory`` under a random key; 413 (and nothing kept) past ``limit``."""
    await anyio.Path(directory).mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(16)
    temp = directory / f".{key}.part"
    sink = await anyio.to_thread.run_sync(_Sink, temp)
    digest = hashlib.sha256()
    size = 0
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            digest.update(chunk)
            await anyio.to_thread.run_sync(sink.write, chunk)
        await anyio.to_thread.run_sync(sink.close)
        final = directory / key
        await anyio.to_thread.run_sync(os.replace, temp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            sink.close()
        await anyio.Path(temp).unlink(missing_ok=True)
        raise
    return Stored(final, key, size, digest.hexdigest())


def check_ticket(db: Session, ticket_id: int) -> Ticket:
    ticket = db.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(_("Ticket %(id)d does not exist.") % {"id": ticket_id})
    return ticket


def add(
    db: Session,
    ticket_id: int,
    stored: Stored,
    name: str,
    *,
    user: User,
    session_id: str | None,
    address: str,
) -> TicketAttachment:
    """Record a stored upload on its ticket, with an audit event, in the caller's transaction."""
    ticket = check_ticket(db, ticket_id)
    row = TicketAttachment(
        ticket_id=ticket_id,
        session_id=session_id,
        uploaded_by=user.id,
        name=safe_name(name)[:255],
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        created_at=utcnow(),
    )
    db.add(row)
    ticket.updated_at = utcnow()
    db.flush()
    record(
        db,
        "ticket.attachment_added",
        actor=user.email,
        ticket_id=ticket_id,
        session_id=session_id,
        address=address,
        details={"attachment_id": row.id, "name": row.name, "size": row.size, "sha256": row.sha256},
    )
    return row


def list_for(db: Session, ticket_id: int) -> list[TicketAttachment]:
    query = select(TicketAttachment).where(TicketAttachment.ticket_id == ticket_id)
    return list(db.scalars(query.order_by(TicketAttachment.id)))


def get(db: Session, ticket_id: int, attachment_id: int) -> TicketAttachment:
    row = db.get(TicketAttachment, attachment_id)
    if row is None or row.ticket_id != ticket_id:
        raise ApiError(404, "attachment_not_found", _("This attachment does not exist."))
    return row
