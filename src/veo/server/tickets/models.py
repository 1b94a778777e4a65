"""Tickets, their categories, comments and change history: the help desk's records.

A ticket is the record a remote session lives on. Its fields carry what the reports need
(priority, category, channel, department, and the timestamps of first response, resolution and
closing); every change to a field is kept as a :class:`TicketChange` row written by
``veo.server.tickets.service`` in the same transaction as the change itself, so history can be
trusted for metrics. Replies to the requester and internal notes are :class:`TicketComment` rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from veo.server.auth.models import User
from veo.server.db.base import Base, UTCDateTime, utcnow

TICKET_STATUSES = ("new", "open", "waiting", "resolved", "closed")
#: Lowest to highest, so the position is the rank used when sorting by priority.
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_CHANNELS = ("phone", "email", "portal", "walk_in")


class Category(Base):
    """An entry of the admin-managed list of problem kinds that reports group tickets by."""

    __tablename__ = "ticket_categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # Each list filter with the list's default order (newest first), so that a filtered page
        # and its count read one index range instead of checking rows across the whole table.
        Index("ix_tickets_status_created_at", "status", "created_at"),
        Index("ix_tickets_priority_created_at", "priority", "created_at"),
        Index("ix_tickets_category_id_created_at", "category_id", "created_at"),
        Index("ix_tickets_assignee_id_created_at", "assignee_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_email: Mapped[str] = mapped_column(String(320), index=True)
    requester_department: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    channel: Mapped[str] = mapped_column(String(20), default="portal")
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("ticket_categories.id", ondelete="SET NULL"), default=None
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)
    #: First public reply or first remote session started by a technician (time to first response).
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    resolution_note: Mapped[str] = mapped_column(Text, default="")

    # Joined: pages render after the transaction ends, so what they show must already be loaded.
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    category: Mapped[Category | None] = relationship(lazy="joined")


class TicketComment(Base):
    """A public reply (the requester may see it) or an internal note (technicians only)."""

    __tablename__ = "ticket_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: ``""``: written by its author. ``"technician_console"``: what the technician's console
    #: attached from a session (chat, system information), which the server cannot vouch the user
    #: sent; the ticket page labels it so.
    origin: Mapped[str] = mapped_column(String(20), default="")

    author: Mapped[User | None] = relationship(lazy="joined")


class TicketChange(Base):
    """One field of one ticket changed: who, when, from what, to what (values as text)."""

    __tablename__ = "ticket_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    field: Mapped[str] = mapped_column(String(40))
    old: Mapped[str | None] = mapped_column(Text, default=None)
    new: Mapped[str | None] = mapped_column(Text, default=None)

    actor: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (
        # Reports read status changes by time across all tickets.
        Index("ix_ticket_changes_field_at", "field", "at"),
    )
