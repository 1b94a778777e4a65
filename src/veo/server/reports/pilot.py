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

import numpy as np

from veo.server.reports.compute import GroupStats, Rates, group_stats, rates, satisfaction
from veo.server.reports.frame import Bools, TicketFrame
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


def _group(key: str, period: Period, frame: TicketFrame, mask: Bools) -> PilotGroup:
    resolved = mask & ~np.isnan(frame.resolution)
    with_session = int(np.count_nonzero(resolved & (frame.sessions > 0)))
    return PilotGroup(
        key=key,
        period=period,
        stats=group_stats(key, frame, mask),
        rates=rates(frame, mask),
        session_share=rate(with_session, int(np.count_nonzero(resolved))),
        satisfaction_average=satisfaction(frame, mask).average,
    )


def compare(
    tickets: Sequence[TicketRow], members: Collection[int], starts_on: date, ends_on: date
) -> PilotComparison:
    """The four groups; ``tickets`` may hold more than both windows (the rest is ignored)."""
    return compare_frame(TicketFrame.of_rows(tickets), members, starts_on, ends_on)


def compare_frame(
    frame: TicketFrame, members: Collection[int], starts_on: date, ends_on: date
) -> PilotComparison:
    """:func:`compare` over columns (what the service reads from the database)."""
    before, during = windows(starts_on, ends_on)
    in_pilot = np.isin(frame.assignee_id, np.asarray(sorted(members), dtype=np.int64))

    def pick(period: Period, pilot: bool) -> Bools:
        return frame.created_between(period.start_at, period.end_before) & (in_pilot if pilot else ~in_pilot)

    groups = [
        _group("pilot_before", before, frame, pick(before, True)),
        _group("pilot_during", during, frame, pick(during, True)),
        _group("rest_before", before, frame, pick(before, False)),
        _group("rest_during", during, frame, pick(during, False)),
    ]
    return PilotComparison(during=during, before=before, groups=groups)
