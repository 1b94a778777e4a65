"""The report: every figure of the reports page, computed from plain rows by pure functions.

Conventions (the page and the API documentation repeat them):

- A ticket belongs to the period when it was *created* in it; weeks are ISO weeks (Monday, UTC)
  of the creation time, so each figure follows one cohort of tickets.
- Time to first response = first response - creation; time to resolution = resolved - creation
  (the latest resolution, when a ticket was reopened). Both in seconds.
- "With a remote session": at least one session on the ticket actually started.
- First-contact resolution: resolved, never reopened and never set to "waiting on user".
- Reopen rate: tickets reopened at least once among those that were ever resolved.
- Satisfaction: every rating given on the period's tickets (a ticket rated twice counts twice).
- Sessions per technician: sessions *started* in the period, with their average length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from veo.server.reports.clusters import MAX_TICKETS, Cluster, find_clusters
from veo.server.reports.frame import Bools, Keys, SessionFrame, TicketFrame, day_number, micros, mondays
from veo.server.reports.rows import Period, SessionRow, TicketRow
from veo.server.reports.stats import Summary, rate, summarize_array

#: Priorities shown in this order when they exist; others follow alphabetically.
PRIORITY_ORDER = ("urgent", "high", "normal", "medium", "low")
TOP_CATEGORIES = 10


@dataclass(frozen=True)
class GroupStats:
    """Response and resolution times of one group of tickets (a week, a category, ...)."""

    key: str
    tickets: int
    first_response: Summary
    resolution: Summary


@dataclass(frozen=True)
class Rates:
    tickets: int
    resolved: int
    first_contact: int
    first_contact_rate: float | None
    ever_resolved: int
    reopened: int
    reopen_rate: float | None


@dataclass(frozen=True)
class Satisfaction:
    count: int
    average: float | None
    #: rating (1..5) -> how many times it was given
    distribution: dict[int, int]


@dataclass(frozen=True)
class CategoryCount:
    category: str
    tickets: int
    share: float


@dataclass(frozen=True)
class TechnicianSessions:
    technician: str
    sessions: int
    length: Summary


@dataclass(frozen=True)
class Report:
    period: Period
    overall: GroupStats
    by_week: list[GroupStats]
    by_category: list[GroupStats]
    by_technician: list[GroupStats]
    by_priority: list[GroupStats]
    #: two groups, keys "with_session" and "without_session", over resolved tickets
    session_comparison: list[GroupStats]
    rates: Rates
    satisfaction: Satisfaction
    top_categories: list[CategoryCount]
    clusters: list[Cluster]
    technician_sessions: list[TechnicianSessions]
    weeks: list[date] = field(default_factory=list)
    #: When these figures were computed (a cached report may be a little older than the data).
    computed_at: datetime | None = None


def group_stats(key: str, frame: TicketFrame, mask: Bools | None = None) -> GroupStats:
    """Response and resolution times of the tickets of ``frame`` where ``mask`` is true (all)."""
    if mask is None:
        return GroupStats(
            key, len(frame), summarize_array(frame.first_response), summarize_array(frame.resolution)
        )
    return GroupStats(
        key=key,
        tickets=int(np.count_nonzero(mask)),
        first_response=summarize_array(frame.first_response[mask]),
        resolution=summarize_array(frame.resolution[mask]),
    )


def _grouped(frame: TicketFrame, keys: Keys) -> list[tuple[str, int, GroupStats]]:
    """(name, size, stats) of every group of ``keys`` that has tickets."""
    sizes = np.bincount(keys.codes, minlength=len(keys.names))
    return [
        (name, int(sizes[code]), group_stats(name, frame, keys.codes == code))
        for code, name in enumerate(keys.names)
        if sizes[code]
    ]


def weeks_in(period: Period) -> list[date]:
    """The Mondays of every week that overlaps the period, empty weeks included (charts need them)."""
    weeks: list[date] = []
    week = period.start - timedelta(days=period.start.weekday())
    while week <= period.end:
        weeks.append(week)
        week += timedelta(weeks=1)
    return weeks


def by_week(frame: TicketFrame, weeks: list[date]) -> list[GroupStats]:
    monday = mondays(frame.created_us)
    return [group_stats(w.isoformat(), frame, monday == day_number(w)) for w in weeks]


def _by_priority(key: str) -> tuple[int, str]:
    return (PRIORITY_ORDER.index(key), key) if key in PRIORITY_ORDER else (len(PRIORITY_ORDER), key)


def session_comparison(frame: TicketFrame) -> list[GroupStats]:
    resolved = ~np.isnan(frame.resolution)
    with_session = frame.sessions > 0
    return [
        group_stats("with_session", frame, resolved & with_session),
        group_stats("without_session", frame, resolved & ~with_session),
    ]


def rates(frame: TicketFrame, mask: Bools | None = None) -> Rates:
    inside = np.ones(len(frame), dtype=np.bool_) if mask is None else mask
    resolved = inside & ~np.isnan(frame.resolution)
    reopened = frame.reopened > 0
    first_contact = int(np.count_nonzero(resolved & ~reopened & ~frame.waited))
    ever = resolved | (inside & reopened)
    n_resolved, n_ever = int(np.count_nonzero(resolved)), int(np.count_nonzero(ever))
    n_reopened = int(np.count_nonzero(ever & reopened))
    return Rates(
        tickets=int(np.count_nonzero(inside)),
        resolved=n_resolved,
        first_contact=first_contact,
        first_contact_rate=rate(first_contact, n_resolved),
        ever_resolved=n_ever,
        reopened=n_reopened,
        reopen_rate=rate(n_reopened, n_ever),
    )


def satisfaction(frame: TicketFrame, mask: Bools | None = None) -> Satisfaction:
    scores = frame.rating_score if mask is None else frame.rating_score[mask[frame.rating_ticket]]
    scores = scores[(scores >= 1) & (scores <= 5)]
    counts = np.bincount(scores, minlength=6)
    ratings: list[int] = scores.tolist()
    return Satisfaction(
        count=len(ratings),
        average=math.fsum(ratings) / len(ratings) if ratings else None,
        distribution={score: int(counts[score]) for score in range(1, 6)},
    )


def top_categories(frame: TicketFrame, limit: int = TOP_CATEGORIES) -> list[CategoryCount]:
    sizes = np.bincount(frame.category.codes, minlength=len(frame.category.names))
    counts = [(name, int(sizes[code])) for code, name in enumerate(frame.category.names) if sizes[code]]
    ranked = sorted(counts, key=lambda item: (-item[1], item[0]))[:limit]
    return [CategoryCount(name, n, n / len(frame)) for name, n in ranked]


def technician_sessions(sessions: SessionFrame, period: Period) -> list[TechnicianSessions]:
    inside = (sessions.started_us >= micros(period.start_at)) & (
        sessions.started_us < micros(period.end_before)
    )
    codes = sessions.technician.codes[inside]
    lengths = sessions.length[inside]
    sizes = np.bincount(codes, minlength=len(sessions.technician.names))
    groups = [(name, int(sizes[code])) for code, name in enumerate(sessions.technician.names) if sizes[code]]
    ranked = sorted(groups, key=lambda item: (-item[1], item[0]))
    names = sessions.technician.names
    return [
        TechnicianSessions(name, n, summarize_array(lengths[codes == names.index(name)]))
        for name, n in ranked
    ]


def build_report(
    tickets: Sequence[TicketRow],
    sessions: Sequence[SessionRow],
    period: Period,
    *,
    with_clusters: bool = True,
    computed_at: datetime | None = None,
) -> Report:
    """Every figure for ``period``; tickets outside it are ignored, so callers may over-fetch."""
    inside = [t for t in tickets if period.start_at <= t.created_at < period.end_before]
    recent = sorted(inside, key=lambda t: (t.created_at, t.id), reverse=True)[:MAX_TICKETS]
    return report_of(
        TicketFrame.of_rows(inside),
        SessionFrame.of_rows(sessions),
        period,
        recent if with_clusters else None,
        computed_at=computed_at,
    )


def report_of(
    frame: TicketFrame,
    sessions: SessionFrame,
    period: Period,
    recent: Sequence[TicketRow] | None,
    *,
    computed_at: datetime | None = None,
) -> Report:
    """Every figure for ``period`` from columns; ``recent`` are the texts to cluster (None: no clusters).

    ``frame`` may hold tickets outside the period (they are dropped); ``recent`` must be the
    period's :data:`~veo.server.reports.clusters.MAX_TICKETS` most recent tickets.
    """
    frame = frame.take(frame.created_between(period.start_at, period.end_before))
    weeks = weeks_in(period)
    categories = sorted(_grouped(frame, frame.category), key=lambda g: (-g[1], g[0]))
    technicians = sorted(_grouped(frame, frame.assignee), key=lambda g: g[0])
    priorities = sorted(_grouped(frame, frame.priority), key=lambda g: _by_priority(g[0]))
    return Report(
        period=period,
        overall=group_stats("all", frame),
        by_week=by_week(frame, weeks),
        by_category=[g[2] for g in categories],
        by_technician=[g[2] for g in technicians],
        by_priority=[g[2] for g in priorities],
        session_comparison=session_comparison(frame),
        rates=rates(frame),
        satisfaction=satisfaction(frame),
        top_categories=top_categories(frame) if len(frame) else [],
        clusters=find_clusters(recent, weeks) if recent is not None else [],
        technician_sessions=technician_sessions(sessions, period),
        weeks=weeks,
        computed_at=computed_at,
    )
