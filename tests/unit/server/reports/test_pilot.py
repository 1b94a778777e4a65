"""Pilot vs the rest, before vs during, on the hand-made fixture plus tickets before it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from tests.unit.server.reports.fixture import ANA, BEN, END, START, at

from veo.server.reports.pilot import compare, windows
from veo.server.reports.rows import Period, TicketRow

HOUR = 3600


def ticket(number: int, created_day: int, hours: int, tech: int, sessions: int = 0) -> TicketRow:
    created = at(created_day)
    return TicketRow(
        number,
        "t",
        "",
        created,
        resolved_at=created + timedelta(hours=hours),
        assignee_id=tech,
        sessions=sessions,
    )


def test_windows_are_of_equal_length_just_before() -> None:
    before, during = windows(START, END)
    assert during == Period(START, END)
    assert before == Period(date(2026, 2, 16), date(2026, 3, 1))
    assert before.days == during.days == 14


def test_four_groups() -> None:
    tickets = [
        ticket(1, 3, 2, ANA, sessions=1),  # pilot, during
        ticket(2, 4, 4, ANA, sessions=1),  # pilot, during
        ticket(3, 5, 9, BEN),  # rest, during
        ticket(4, -3, 10, ANA),  # pilot, before (25 February)
        ticket(5, -5, 12, BEN),  # rest, before
        ticket(6, -20, 1, ANA),  # too early for either window
        ticket(7, 16, 1, ANA),  # after the pilot
    ]
    comparison = compare(tickets, {ANA}, START, END)
    groups = {g.key: g for g in comparison.groups}
    assert [g.key for g in comparison.groups] == [
        "pilot_before",
        "pilot_during",
        "rest_before",
        "rest_during",
    ]
    assert groups["pilot_during"].stats.tickets == 2
    assert groups["pilot_during"].stats.resolution.median == 3 * HOUR
    assert groups["pilot_during"].session_share == 1.0
    assert groups["pilot_before"].stats.tickets == 1
    assert groups["pilot_before"].stats.resolution.median == 10 * HOUR
    assert groups["pilot_before"].session_share == 0.0
    assert groups["rest_during"].stats.resolution.median == 9 * HOUR
    assert groups["rest_before"].stats.resolution.median == pytest.approx(12 * HOUR)


def test_unassigned_tickets_count_as_the_rest() -> None:
    unassigned = TicketRow(1, "t", "", at(3), resolved_at=at(3, 10), assignee_id=None)
    groups = {g.key: g for g in compare([unassigned], {ANA}, START, END).groups}
    assert groups["rest_during"].stats.tickets == 1 and groups["pilot_during"].stats.tickets == 0
