"""The plain rows reports are computed from: one per ticket, one per remote session.

Keeping the computations on these (instead of ORM objects) makes them fast over 100,000
tickets, easy to feed from a hand-made fixture, and independent of how the tables evolve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta


@dataclass(frozen=True)
class TicketRow:
    id: int
    title: str
    description: str
    created_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    category: str | None = None
    priority: str | None = None
    assignee_id: int | None = None
    assignee: str | None = None
    channel: str | None = None
    reopened_count: int = 0
    #: The ticket was ever set to "waiting on user" (a second contact was needed).
    waited: bool = False
    #: Remote sessions on the ticket that actually started (the user allowed it).
    sessions: int = 0
    #: The requester's satisfaction ratings (1-5) on the ticket and its sessions.
    ratings: tuple[int, ...] = ()

    #: Seconds to first response and to resolution, worked out once (a ticket is counted in
    #: several groups: overall, its week, category, technician, priority).
    first_response_seconds: float | None = field(init=False, compare=False)
    resolution_seconds: float | None = field(init=False, compare=False)

    def __post_init__(self) -> None:
        first = self.first_response_at
        done = self.resolved_at
        fr = None if first is None else max(0.0, (first - self.created_at).total_seconds())
        res = None if done is None else max(0.0, (done - self.created_at).total_seconds())
        object.__setattr__(self, "first_response_seconds", fr)
        object.__setattr__(self, "resolution_seconds", res)


@dataclass(frozen=True)
class SessionRow:
    ticket_id: int
    technician_id: int | None
    technician: str
    started_at: datetime
    ended_at: datetime | None

    @property
    def length_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.started_at).total_seconds())


@dataclass(frozen=True)
class Period:
    """Tickets created from ``start`` to ``end``, both days included (UTC)."""

    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, UTC)

    @property
    def end_before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def week_of(moment: datetime) -> date:
    """The Monday (UTC) that starts the ISO week of ``moment``."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())
