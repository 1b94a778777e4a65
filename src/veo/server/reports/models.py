"""Pilot groups of technicians and the technicians' feedback about the tool."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from veo.server.auth.models import User
from veo.server.db.base import Base, UTCDateTime, utcnow
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Ticket


class Pilot(Base):
    """A group of technicians trying veo from ``starts_on`` to ``ends_on`` (both included)."""

    __tablename__ = "pilots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    members: Mapped[list[PilotMember]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="PilotMember.user_id"
    )


class PilotMember(Base):
    __tablename__ = "pilot_members"

    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)

    user: Mapped[User] = relationship(lazy="joined")


class ToolFeedback(Base):
    """What a technician thinks of the tool: a 1-5 score and free text, read by the leads."""

    __tablename__ = "tool_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    pilot_id: Mapped[int | None] = mapped_column(ForeignKey("pilots.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User | None] = relationship(lazy="joined")
    pilot: Mapped[Pilot | None] = relationship(lazy="joined")


# Indexes that only reports read, declared here with the feature that needs them (migration 0009).
# Each holds every column its report query reads, so the period's rows come from the index alone
# (tens of thousands of them at 100,000 tickets) instead of one table lookup per row.
REPORT_TICKETS_INDEX = Index(
    "ix_tickets_report",
    Ticket.created_at,
    Ticket.first_response_at,
    Ticket.resolved_at,
    Ticket.category_id,
    Ticket.priority,
    Ticket.assignee_id,
    Ticket.reopened_count,
    Ticket.id,
)
REPORT_SESSIONS_INDEX = Index(
    "ix_remote_sessions_report",
    RemoteSession.started_at,
    RemoteSession.ended_at,
    RemoteSession.technician_id,
    RemoteSession.ticket_id,
)
