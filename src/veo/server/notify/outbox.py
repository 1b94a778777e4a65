"""The outbox: queue a message in the caller's transaction; claim, complete and list them.

A message is claimed by moving its ``next_attempt_at`` a lease into the future with a
conditional UPDATE, so two workers (two server nodes) never send the same row at once, and a
worker that dies mid-send leaves the row to be retried when the lease runs out. Each row is
leased again just before its own send (``renew``), so a send always starts with a full lease.

On PostgreSQL, with several nodes, the candidates are also read ``FOR UPDATE SKIP LOCKED``: rows
another node is claiming right now are passed over instead of waited for, so the nodes' rounds
share the due messages instead of queueing behind each other (SQLite: one node, and the clause
is left out). Delivery is at least once: a node that dies after sending and before recording it
leaves the row to be sent again after the lease, so every delivery carries a stable id (the
e-mail's ``Message-ID``, the webhook's ``Idempotency-Key``: :func:`delivery_key`) by which the
receiver can drop the second copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from veo.server.db.base import utcnow
from veo.server.notify.models import OutboxMessage

#: Seconds to wait after the 1st, 2nd, ... failed attempt; one more failure after the last is final.
BACKOFF_SECONDS = (60, 300, 900, 3600, 4 * 3600)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
LEASE = timedelta(minutes=5)
BATCH = 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: ``Session.info`` key: this transaction queued something (see ``worker.OutboxWorker``).
QUEUED_FLAG = "veo_outbox_queued"


def enqueue(
    db: Session,
    *,
    kind: str,
    event: str,
    recipient: str,
    payload: dict[str, Any],
    ticket_id: int | None = None,
    webhook_id: int | None = None,
) -> OutboxMessage:
    message = OutboxMessage(
        kind=kind,
        event=event,
        recipient=recipient,
        payload=payload,
        ticket_id=ticket_id,
        webhook_id=webhook_id,
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
        last_error="",
    )
    db.add(message)
    db.flush()
    db.info[QUEUED_FLAG] = True  # the worker is woken once this transaction commits
    return message


def claim_due(db: Session, now: datetime) -> list[OutboxMessage]:
    """Due pending messages, each leased to this caller until ``now + LEASE``."""
    candidates = db.scalars(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    claimed: list[OutboxMessage] = []
    for message_id in candidates:
        result = db.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            message = db.get(OutboxMessage, message_id, populate_existing=True)
            if message is not None:
                claimed.append(message)
    return claimed


def delivery_key(message: OutboxMessage) -> str:
    """The key a receiver recognises a repeat by: the row's id and its creation to the microsecond.

    The same on every attempt of one row. The bare id would not do: after a restore of an older
    backup the database issues the same ids again, and two veo installations posting to one
    helpdesk number their rows alike, so a receiver keeping keys for a day would drop new
    messages as repeats. The creation time tells those apart (no migration needed).
    """
    micros = (message.created_at - EPOCH) // timedelta(microseconds=1)
    return f"{message.id}.{micros}"


def renew(db: Session, message_id: int, held_until: datetime, now: datetime) -> datetime | None:
    """Lease the row again, from ``now``, just before its send; None: it is no longer ours.

    The worker's claim leased the whole batch at once; by the time a slow batch reaches a row
    its lease may have run out and another node may have claimed it. The conditional UPDATE
    succeeds only while the row still holds this worker's lease (``held_until``) and is pending,
    so exactly one node gets to send it, with a full lease for that send.
    """
    fresh = now + LEASE
    result = db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at == held_until,
        )
        .values(next_attempt_at=fresh)
        .execution_options(synchronize_session=False)
    )
    return fresh if result.rowcount == 1 else None  # type: ignore[attr-defined]


def mark_sent(db: Session, message_id: int, now: datetime) -> None:
    message = db.get(OutboxMessage, message_id)
    if message is None:  # its ticket was deleted meanwhile
        return
    message.attempts += 1
    message.status = "sent"
    message.sent_at = now
    message.last_error = ""


def mark_failed(db: Session, message_id: int, now: datetime, error: str, *, permanent: bool) -> None:
    """Record a failed attempt: retry later with backoff, or give up (``failed``) for good."""
    message = db.get(OutboxMessage, message_id)
    if message is None:
        return
    message.attempts += 1
    message.last_error = error[:500]
    if permanent or message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
    else:
        message.next_attempt_at = now + timedelta(seconds=BACKOFF_SECONDS[message.attempts - 1])


def mark_waiting(db: Session, message_id: int, now: datetime, reason: str, retry_in: timedelta) -> None:
    """Not attempted (e.g. no SMTP server configured): no attempt counted, the reason shown."""
    message = db.get(OutboxMessage, message_id)
    if message is None:
        return
    message.last_error = reason[:500]
    message.next_attempt_at = now + retry_in


def retry_now(db: Session, message_id: int) -> OutboxMessage | None:
    """An admin asks for another try of a failed (or waiting) message."""
    message = db.get(OutboxMessage, message_id)
    if message is None or message.status == "sent":
        return message
    if message.status == "failed":
        message.attempts = 0  # a fresh series of attempts with the full backoff
    message.status = "pending"
    message.next_attempt_at = utcnow()
    return message


@dataclass(frozen=True)
class OutboxPage:
    items: list[OutboxMessage]
    total: int


def list_messages(
    db: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    ticket_id: int | None = None,
    webhook_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> OutboxPage:
    """Newest first, filtered; the outbox admin page, the API and the ticket page read this."""
    conditions = []
    if status is not None:
        conditions.append(OutboxMessage.status == status)
    if kind is not None:
        conditions.append(OutboxMessage.kind == kind)
    if ticket_id is not None:
        conditions.append(OutboxMessage.ticket_id == ticket_id)
    if webhook_id is not None:
        conditions.append(OutboxMessage.webhook_id == webhook_id)
    total = db.scalar(select(func.count()).select_from(OutboxMessage).where(*conditions)) or 0
    rows = db.scalars(
        select(OutboxMessage)
        .where(*conditions)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return OutboxPage(items=list(rows), total=total)
