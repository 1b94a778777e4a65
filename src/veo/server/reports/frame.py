"""Tickets and sessions as columns (NumPy arrays): what the report's figures are computed over.

At 100,000 tickets a period holds tens of thousands of them; one Python object per ticket (and
three datetimes each) cost more than every figure together. The database gives plain numbers
instead (times as integer microseconds since 1970, UTC) and the figures are worked out per
column. Durations are ``(end_us - start_us) / 1e6``: both integers are exact in a float64, so
the result is the very float ``timedelta.total_seconds()`` gives, and a frame built from
:class:`~veo.server.reports.rows.TicketRow` objects (the hand-made test fixtures) yields the
same figures to the last bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from veo.server.reports.rows import SessionRow, TicketRow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DAY = date(1970, 1, 1)
MICROSECOND = timedelta(microseconds=1)
DAY_US = 86_400_000_000

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]
#: A column handed to a frame: a list from the rows, or an array already.
Column = Sequence[Any] | NDArray[Any]


def micros(moment: datetime | None) -> float:
    """Microseconds since 1970 (UTC) as an exact float; NaN for no time."""
    if moment is None:
        return float("nan")
    return float((moment - EPOCH) // MICROSECOND)


def day_number(day: date) -> int:
    return (day - EPOCH_DAY).days


def seconds_between(start_us: Floats, end_us: Floats) -> Floats:
    """``max(0, end - start)`` in seconds per row; NaN where either time is missing."""
    return np.maximum(0.0, (end_us - start_us) / 1e6)


def mondays(created_us: Floats) -> Ints:
    """Day number (since 1970-01-01) of the Monday that starts each time's ISO week (UTC)."""
    days = np.floor_divide(created_us, DAY_US).astype(np.int64)
    return days - (days + 3) % 7  # 1970-01-01 was a Thursday


@dataclass(frozen=True)
class Keys:
    """A text column with few distinct values: one code per row and the codes' names."""

    codes: Ints
    names: list[str]

    @classmethod
    def of(cls, values: Iterable[str]) -> Keys:
        texts = np.asarray(list(values), dtype=np.str_)
        if not len(texts):
            return cls(np.zeros(0, dtype=np.int64), [])
        names, codes = np.unique(texts, return_inverse=True)
        return cls(codes.astype(np.int64).ravel(), [str(n) for n in names])

    @classmethod
    def of_ids(cls, ids: Column, name_of: Mapping[int, str]) -> Keys:
        """Keys from ids (None allowed) named by ``name_of`` (missing: ""); rows whose ids
        have the same name share one code. Much cheaper than :meth:`of` on the row's texts."""
        raw = np.asarray([-1 if i is None else i for i in ids], dtype=np.int64)
        if not len(raw):
            return cls(np.zeros(0, dtype=np.int64), [])
        distinct, inverse = np.unique(raw, return_inverse=True)
        named = cls.of(name_of.get(int(i)) or "" for i in distinct)
        return cls(named.codes[inverse.ravel()], named.names)

    def take(self, mask: Bools) -> Keys:
        return Keys(self.codes[mask], self.names)


@dataclass(frozen=True)
class TicketFrame:
    """One entry per ticket in every array (see :class:`~veo.server.reports.rows.TicketRow`)."""

    ids: Ints
    created_us: Floats
    #: seconds, NaN when there was no first response / resolution
    first_response: Floats
    resolution: Floats
    category: Keys
    priority: Keys
    assignee: Keys
    #: -1 for unassigned
    assignee_id: Ints
    reopened: Ints
    waited: Bools
    sessions: Ints
    #: every rating given: the index of its ticket in this frame, and its score
    rating_ticket: Ints
    rating_score: Ints

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(
        cls,
        *,
        ids: Column,
        created_us: Column,
        first_response_us: Column,
        resolved_us: Column,
        category: Iterable[str] | Keys,
        priority: Iterable[str] | Keys,
        assignee: Iterable[str] | Keys,
        assignee_id: Column,
        reopened: Column,
        waited: Column,
        sessions: Column,
        rating_ticket: Column,
        rating_score: Column,
    ) -> TicketFrame:
        created = np.asarray(created_us, dtype=np.float64)
        return cls(
            ids=np.asarray(ids, dtype=np.int64),
            created_us=created,
            first_response=seconds_between(created, np.asarray(first_response_us, dtype=np.float64)),
            resolution=seconds_between(created, np.asarray(resolved_us, dtype=np.float64)),
            category=category if isinstance(category, Keys) else Keys.of(category),
            priority=priority if isinstance(priority, Keys) else Keys.of(priority),
            assignee=assignee if isinstance(assignee, Keys) else Keys.of(assignee),
            assignee_id=np.asarray(assignee_id, dtype=np.int64),
            reopened=np.asarray(reopened, dtype=np.int64),
            waited=np.asarray(waited, dtype=np.bool_),
            sessions=np.asarray(sessions, dtype=np.int64),
            rating_ticket=np.asarray(rating_ticket, dtype=np.int64),
            rating_score=np.asarray(rating_score, dtype=np.int64),
        )

    @classmethod
    def of_rows(cls, tickets: Sequence[TicketRow]) -> TicketFrame:
        rating_ticket = [i for i, t in enumerate(tickets) for _r in t.ratings]
        return cls.build(
            ids=[t.id for t in tickets],
            created_us=[micros(t.created_at) for t in tickets],
            first_response_us=[micros(t.first_response_at) for t in tickets],
            resolved_us=[micros(t.resolved_at) for t in tickets],
            category=(t.category or "" for t in tickets),
            priority=(t.priority or "" for t in tickets),
            assignee=(t.assignee or "" for t in tickets),
            assignee_id=[-1 if t.assignee_id is None else t.assignee_id for t in tickets],
            reopened=[t.reopened_count for t in tickets],
            waited=[t.waited for t in tickets],
            sessions=[t.sessions for t in tickets],
            rating_ticket=rating_ticket,
            rating_score=[r for t in tickets for r in t.ratings],
        )

    def take(self, mask: Bools) -> TicketFrame:
        """The tickets where ``mask`` is true, in the same order."""
        keep = mask[self.rating_ticket]
        renumbered = np.cumsum(mask) - 1
        return TicketFrame(
            ids=self.ids[mask],
            created_us=self.created_us[mask],
            first_response=self.first_response[mask],
            resolution=self.resolution[mask],
            category=self.category.take(mask),
            priority=self.priority.take(mask),
            assignee=self.assignee.take(mask),
            assignee_id=self.assignee_id[mask],
            reopened=self.reopened[mask],
            waited=self.waited[mask],
            sessions=self.sessions[mask],
            rating_ticket=renumbered[self.rating_ticket[keep]].astype(np.int64),
            rating_score=self.rating_score[keep],
        )

    def created_between(self, start: datetime, end: datetime) -> Bools:
        return (self.created_us >= micros(start)) & (self.created_us < micros(end))


@dataclass(frozen=True)
class SessionFrame:
    """Remote sessions that started: technician name, start, and length in seconds (NaN: running)."""

    technician: Keys
    started_us: Floats
    length: Floats

    @classmethod
    def build(cls, technician: Iterable[str], started_us: Column, ended_us: Column) -> SessionFrame:
        started = np.asarray(started_us, dtype=np.float64)
        ended = np.asarray(ended_us, dtype=np.float64)
        return cls(Keys.of(technician), started, seconds_between(started, ended))

    @classmethod
    def of_rows(cls, sessions: Sequence[SessionRow]) -> SessionFrame:
        return cls.build(
            (s.technician for s in sessions),
            [micros(s.started_at) for s in sessions],
            [micros(s.ended_at) for s in sessions],
        )
