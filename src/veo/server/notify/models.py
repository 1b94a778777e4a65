"""Tables of the notification area: the outbox, webhook endpoints, rating requests, languages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from veo.server.db.base import Base, UTCDateTime, utcnow

#: pending (due at ``next_attempt_at``) -> sent, or -> failed after the last attempt.
OUTBOX_STATUSES = ("pending", "sent", "failed")
OUTBOX_KINDS = ("email", "webhook")


class OutboxMessage(Base):
    """One e-mail or webhook call, stored before any attempt so that none is lost silently."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    #: What caused it: ``ticket.created``, ``ticket.reply``, ``ticket.resolved``, ``session.link``...
    event: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True, default=None
    )
    webhook_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True, default=None
    )
    #: An e-mail address or a webhook URL.
    recipient: Mapped[str] = mapped_column(String(2000))
    #: E-mail: ``template``, ``language``, ``context`` (``compose.py``); webhook: the signed ``body``.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class WebhookEndpoint(Base):
    """An admin-configured receiver of ticket events (typically the department's helpdesk)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RatingRequest(Base):
    """A bearer token that lets the requester rate once: a session (agent) or a ticket (e-mail).

    Only the SHA-256 of the token is kept; the score lands here and, for a session, also on
    ``RemoteSession.rating`` so the ticket page and reports read it where the session is.
    """

    __tablename__ = "rating_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("remote_sessions.id", ondelete="CASCADE"), unique=True, default=None
    )
    #: The requester's language when the token was issued ("" = the server's language).
    language: Mapped[str] = mapped_column(String(10), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    score: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class RequesterLanguage(Base):
    """The language to write to a ticket's requester in (default: the server's language).

    Set when the ticket is created, when the requester's agent joins a session (it sends the
    user's language) or when they use the rating page.
    """

    __tablename__ = "requester_languages"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(10))
