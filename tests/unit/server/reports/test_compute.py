"""Report figures from a hand-made fixture (see ``fixture.py`` for the table and the sums)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from tests.unit.server.reports.fixture import END, NAMES, SPECS, START, resolved, session_start

from veo.server.reports.compute import Report, build_report, weeks_in
from veo.server.reports.rows import Period, SessionRow, TicketRow

MIN, HOUR = 60, 3600


def rows() -> tuple[list[TicketRow], list[SessionRow]]:
    tickets: list[TicketRow] = []
    sessions: list[SessionRow] = []
    for number, spec in enumerate(SPECS, start=1):
        tickets.append(
            TicketRow(
                id=number,
                title=spec.title,
                description=spec.description,
                created_at=spec.created,
                first_response_at=spec.created + timedelta(minutes=spec.first_minutes),
                resolved_at=resolved(spec),
                category=spec.category,
                priority=spec.priority,
                assignee_id=spec.tech,
                assignee=NAMES[spec.tech],
                reopened_count=spec.reopened,
                waited=spec.waited,
                sessions=len(spec.sessions),
                ratings=() if spec.rating is None else (spec.rating,),
            )
        )
        for index, minutes in enumerate(spec.sessions):
            started = session_start(spec, index)
            sessions.append(
                SessionRow(number, spec.tech, NAMES[spec.tech], started, started + timedelta(minutes=minutes))
            )
    return tickets, sessions


@pytest.fixture
def report() -> Report:
    tickets, sessions = rows()
    return build_report(tickets, sessions, Period(START, END))


def test_overall_times(report: Report) -> None:
    fr, res = report.overall.first_response, report.overall.resolution
    assert report.overall.tickets == 5  # T6 is outside the period
    # 10 20 30 40 50 minutes
    assert (fr.count, fr.mean, fr.median) == (5, 30 * MIN, 30 * MIN)
    assert fr.p90 == pytest.approx(46 * MIN)
    # 2 4 6 8 hours (T5 is open)
    assert (res.count, res.mean, res.median) == (4, 5 * HOUR, 5 * HOUR)
    assert res.p90 == pytest.approx(7.4 * HOUR)


def test_by_week(report: Report) -> None:
    assert report.weeks == [date(2026, 3, 2), date(2026, 3, 9)]
    first, second = report.by_week
    assert (first.key, first.tickets, second.key, second.tickets) == ("2026-03-02", 3, "2026-03-09", 2)
    assert first.first_response.median == 20 * MIN
    assert first.resolution.median == 4 * HOUR
    assert first.resolution.p90 == pytest.approx(5.6 * HOUR)  # 2 4 6: position 1.8
    assert second.first_response.median == 45 * MIN
    assert second.resolution.median == 8 * HOUR


def test_by_category_technician_priority(report: Report) -> None:
    categories = {g.key: g for g in report.by_category}
    assert [g.key for g in report.by_category] == ["Printing", "Network"]  # most tickets first
    assert categories["Printing"].resolution.median == 3 * HOUR  # 2 and 4
    assert categories["Network"].resolution.median == 7 * HOUR  # 6 and 8
    assert categories["Printing"].first_response.median == 20 * MIN  # 10 20 50
    technicians = {g.key: g for g in report.by_technician}
    assert technicians["Ana"].tickets == 3 and technicians["Ben"].tickets == 2
    assert [g.key for g in report.by_priority] == ["high", "normal", "low"]
    assert report.by_priority[0].resolution.median == 5 * HOUR  # 2 and 8


def test_with_and_without_a_session(report: Report) -> None:
    with_session, without = report.session_comparison
    assert with_session.key == "with_session" and without.key == "without_session"
    # resolved with a session: T1 (2 h), T3 (6 h); without: T2 (4 h), T4 (8 h)
    assert (with_session.tickets, with_session.resolution.mean, with_session.resolution.median) == (
        2,
        4 * HOUR,
        4 * HOUR,
    )
    assert with_session.resolution.p90 == pytest.approx(5.6 * HOUR)
    assert (without.tickets, without.resolution.mean, without.resolution.median) == (2, 6 * HOUR, 6 * HOUR)
    assert without.resolution.p90 == pytest.approx(7.6 * HOUR)


def test_rates_and_satisfaction(report: Report) -> None:
    rates = report.rates
    # resolved T1..T4; T3 was reopened, T4 waited on the user: 2 of 4 on first contact
    assert (rates.tickets, rates.resolved, rates.first_contact, rates.first_contact_rate) == (5, 4, 2, 0.5)
    assert (rates.ever_resolved, rates.reopened, rates.reopen_rate) == (4, 1, 0.25)
    assert report.satisfaction.count == 2
    assert report.satisfaction.average == 4
    assert report.satisfaction.distribution == {1: 0, 2: 0, 3: 1, 4: 0, 5: 1}


def test_top_categories_and_sessions_per_technician(report: Report) -> None:
    assert [(c.category, c.tickets, c.share) for c in report.top_categories] == [
        ("Printing", 3, 0.6),
        ("Network", 2, 0.4),
    ]
    sessions = {t.technician: t for t in report.technician_sessions}
    assert sessions["Ben"].sessions == 2 and sessions["Ben"].length.mean == 15 * MIN
    assert sessions["Ana"].sessions == 1 and sessions["Ana"].length.mean == 30 * MIN
    assert [t.technician for t in report.technician_sessions] == ["Ben", "Ana"]


def test_empty_period_has_no_figures_but_every_week() -> None:
    report = build_report([], [], Period(START, END))
    assert report.overall.resolution.median is None
    assert report.rates.first_contact_rate is None and report.rates.reopen_rate is None
    assert report.satisfaction.average is None
    assert len(report.by_week) == 2 and report.top_categories == [] and report.clusters == []


def test_weeks_cover_partial_weeks() -> None:
    # Wednesday to the next Tuesday: two ISO weeks, each starting on its Monday
    assert weeks_in(Period(date(2026, 3, 4), date(2026, 3, 10))) == [date(2026, 3, 2), date(2026, 3, 9)]
