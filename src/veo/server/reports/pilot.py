"""The pilot comparison: the pilot technicians against the rest, and before against during.

A pilot is a group of technicians trying veo over a date range. Its effect shows as the
difference between four groups of tickets (by assignee and creation date): the pilot group
and the rest *during* the pilot, and the same two *before* it, over a window of equal length
just before the start. Comparing "before" with "during" for the rest as well tells a change
brought by the tool apart from a change in the season.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from veo.server.reports.compute import GroupStats, Rates, group_stats, rates, satisfaction
from veo.server.reports.rows import Period, TicketRow
from veo.server.reports.stats import rate

GROUPS = ("pilot_before", "pilot_during", "rest_before", "rest_during")


@dataclass(frozen=True)
class PilotGroup:
    key: str
    period: Period
    stats: GroupStats
    rates: Rates
    #: share of resolved tickets that had a remote session
    session_share: float | None
    satisfaction_average: float | None


@dataclass(frozen=True)
class PilotComparison:
    during: Period
    before: Period
    groups: list[PilotGroup]


def windows(starts_on: date, ends_on: date) -> tuple[Period, Period]:
    """(before, during): the pilot's range and the range of equal length just before it."""
    during = Period(starts_on, ends_on)
    before = Period(starts_on - timedelta(days=during.days), starts_on - timedelta(days=1))
    return before, during


def _group(key: str, period: Period, tickets: Sequence[TicketRow]) -> PilotGroup:
    resolved = [t for t in tickets if t.resolved_at is not None]
    return PilotGroup(
        key=key,
        period=period,
        stats=group_stats(key, tickets),
        rates=rates(tickets),
        session_share=rate(sum(1 for t in resolved if t.sessions > 0), len(resolved)),
        satisfaction_average=satisfaction(tickets).average,
    )


def compare(
    tickets: Sequence[TicketRow], members: Collection[int], starts_on: date, ends_on: date
) -> PilotComparison:
    """The four groups; ``tickets`` may hold more than both windows (the rest is ignored)."""
    before, during = windows(starts_on, ends_on)

    def pick(period: Period, in_pilot: bool) -> list[TicketRow]:
        return [
            t
            for t in tickets
            if period.start_at <= t.created_at < period.end_before
            and (t.assignee_id is not None and t.assignee_id in members) == in_pilot
        ]

    groups = [
        _group("pilot_before", before, pick(before, True)),
        _group("pilot_during", during, pick(during, True)),
        _group("rest_before", before, pick(before, False)),
        _group("rest_during", during, pick(during, False)),
    ]
    return PilotComparison(during=during, before=before, groups=groups)
