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
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from veo.server.reports.clusters import Cluster, find_clusters
from veo.server.reports.rows import Period, SessionRow, TicketRow, week_of
from veo.server.reports.stats import Summary, rate, summarize

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


def _values(tickets: Iterable[TicketRow], attribute: Callable[[TicketRow], float | None]) -> list[float]:
    return [v for v in map(attribute, tickets) if v is not None]


def group_stats(key: str, tickets: Sequence[TicketRow]) -> GroupStats:
    return GroupStats(
        key=key,
        tickets=len(tickets),
        first_response=summarize(_values(tickets, lambda t: t.first_response_seconds)),
        resolution=summarize(_values(tickets, lambda t: t.resolution_seconds)),
    )


def _grouped(tickets: Iterable[TicketRow], key: Callable[[TicketRow], str]) -> dict[str, list[TicketRow]]:
    groups: dict[str, list[TicketRow]] = defaultdict(list)
    for ticket in tickets:
        groups[key(ticket)].append(ticket)
    return groups


def weeks_in(period: Period) -> list[date]:
    """The Mondays of every week that overlaps the period, empty weeks included (charts need them)."""
    weeks: list[date] = []
    week = period.start - timedelta(days=period.start.weekday())
    while week <= period.end:
        weeks.append(week)
        week += timedelta(weeks=1)
    return weeks


def by_week(tickets: Sequence[TicketRow], weeks: list[date]) -> list[GroupStats]:
    groups = _grouped(tickets, lambda t: week_of(t.created_at).isoformat())
    return [group_stats(w.isoformat(), groups.get(w.isoformat(), [])) for w in weeks]


def _by_priority(item: tuple[str, list[TicketRow]]) -> tuple[int, str]:
    key = item[0]
    return (PRIORITY_ORDER.index(key), key) if key in PRIORITY_ORDER else (len(PRIORITY_ORDER), key)


def _largest_first(item: tuple[str, list[TicketRow]]) -> tuple[int, str]:
    return (-len(item[1]), item[0])


def session_comparison(tickets: Sequence[TicketRow]) -> list[GroupStats]:
    resolved = [t for t in tickets if t.resolved_at is not None]
    return [
        group_stats("with_session", [t for t in resolved if t.sessions > 0]),
        group_stats("without_session", [t for t in resolved if t.sessions == 0]),
    ]


def rates(tickets: Sequence[TicketRow]) -> Rates:
    resolved = [t for t in tickets if t.resolved_at is not None]
    first_contact = sum(1 for t in resolved if t.reopened_count == 0 and not t.waited)
    ever = [t for t in tickets if t.resolved_at is not None or t.reopened_count > 0]
    reopened = sum(1 for t in ever if t.reopened_count > 0)
    return Rates(
        tickets=len(tickets),
        resolved=len(resolved),
        first_contact=first_contact,
        first_contact_rate=rate(first_contact, len(resolved)),
        ever_resolved=len(ever),
        reopened=reopened,
        reopen_rate=rate(reopened, len(ever)),
    )


def satisfaction(tickets: Sequence[TicketRow]) -> Satisfaction:
    ratings = [r for t in tickets for r in t.ratings if 1 <= r <= 5]
    counts = Counter(ratings)
    return Satisfaction(
        count=len(ratings),
        average=math.fsum(ratings) / len(ratings) if ratings else None,
        distribution={score: counts.get(score, 0) for score in range(1, 6)},
    )


def top_categories(tickets: Sequence[TicketRow], limit: int = TOP_CATEGORIES) -> list[CategoryCount]:
    counts = Counter(t.category or "" for t in tickets)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [CategoryCount(name, n, n / len(tickets)) for name, n in ranked]


def _lengths(sessions: Iterable[SessionRow]) -> list[float]:
    return [v for v in (s.length_seconds for s in sessions) if v is not None]


def technician_sessions(sessions: Sequence[SessionRow], period: Period) -> list[TechnicianSessions]:
    inside = [s for s in sessions if period.start_at <= s.started_at < period.end_before]
    groups: dict[str, list[SessionRow]] = defaultdict(list)
    for session in inside:
        groups[session.technician].append(session)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [TechnicianSessions(name, len(rows), summarize(_lengths(rows))) for name, rows in ranked]


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
    weeks = weeks_in(period)
    categories = _grouped(inside, lambda t: t.category or "")
    technicians = _grouped(inside, lambda t: t.assignee or "")
    priorities = _grouped(inside, lambda t: t.priority or "")
    return Report(
        period=period,
        overall=group_stats("all", inside),
        by_week=by_week(inside, weeks),
        by_category=[group_stats(k, v) for k, v in sorted(categories.items(), key=_largest_first)],
        by_technician=[group_stats(k, v) for k, v in sorted(technicians.items())],
        by_priority=[group_stats(k, v) for k, v in sorted(priorities.items(), key=_by_priority)],
        session_comparison=session_comparison(inside),
        rates=rates(inside),
        satisfaction=satisfaction(inside),
        top_categories=top_categories(inside) if inside else [],
        clusters=find_clusters(inside, weeks) if with_clusters else [],
        technician_sessions=technician_sessions(sessions, period),
        weeks=weeks,
        computed_at=computed_at,
    )
