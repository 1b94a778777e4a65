"""What the reports page shows: translated group names and the charts built from a report.

Routes stay thin: they fetch a :class:`Report` and hand this module's :class:`ReportView` to the
template. Names are translated here (stored codes like ``urgent`` or ``with_session`` become
words in the reader's language) so the template only lays things out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from veo.server.lang import _
from veo.server.reports import formatting as fmt
from veo.server.reports.charts import Chart, Item, bars, columns, sparkline
from veo.server.reports.compute import GroupStats, Report
from veo.server.reports.headline import Headline, headline
from veo.server.reports.pilot import PilotComparison
from veo.server.reports.stats import Summary


def group_name(key: str) -> str:
    names = {
        "": _("(none)"),
        "all": _("All tickets"),
        "low": _("Low"),
        "normal": _("Normal"),
        "high": _("High"),
        "urgent": _("Urgent"),
        "with_session": _("With a remote session"),
        "without_session": _("Without a remote session"),
        "pilot_before": _("Pilot group, before"),
        "pilot_during": _("Pilot group, during"),
        "rest_before": _("Others, before"),
        "rest_during": _("Others, during"),
    }
    return names.get(key, key)


def _median(pick: Callable[[GroupStats], Summary], scale: float) -> Callable[[GroupStats], float | None]:
    def value(group: GroupStats) -> float | None:
        median = pick(group).median
        return None if median is None else median / scale

    return value


def _items(
    groups: Sequence[GroupStats],
    value: Callable[[GroupStats], float | None],
    label: Callable[[GroupStats], str],
) -> list[Item]:
    return [Item(label(g), value(g), fmt.number(value(g))) for g in groups]


def _week(group: GroupStats) -> str:
    """Weekly groups are keyed by their Monday's ISO date."""
    return fmt.short_day(date.fromisoformat(group.key))


def _name(group: GroupStats) -> str:
    return group_name(group.key)


@dataclass(frozen=True)
class Cluster:
    terms: str
    size: int
    tickets: list[tuple[int, str]]
    trend: list[int]
    points: str


@dataclass(frozen=True)
class ReportView:
    report: Report
    #: the page's first words: remote sessions against none (see :mod:`headline`)
    headline: Headline
    charts: dict[str, Chart]
    clusters: list[Cluster]


def report_view(report: Report) -> ReportView:
    hours = _median(lambda g: g.resolution, 3600)
    minutes = _median(lambda g: g.first_response, 60)
    weeks = report.by_week
    charts = {
        "week_first_response": columns(
            "chart-week-first-response",
            _("Median time to first response by week (minutes)"),
            _items(weeks, minutes, _week),
        ),
        "week_resolution": columns(
            "chart-week-resolution",
            _("Median time to resolution by week (hours)"),
            _items(weeks, hours, _week),
        ),
        "category": bars(
            "chart-category",
            _("Median time to resolution by category (hours)"),
            _items(report.by_category, hours, _name),
        ),
        "technician": bars(
            "chart-technician",
            _("Median time to resolution by technician (hours)"),
            _items(report.by_technician, hours, _name),
        ),
        "priority": bars(
            "chart-priority",
            _("Median time to resolution by priority (hours)"),
            _items(report.by_priority, hours, _name),
        ),
        "sessions_compare": bars(
            "chart-session-compare",
            _("Median time to resolution with and without a remote session (hours)"),
            _items(report.session_comparison, hours, _name),
        ),
        "top_categories": bars(
            "chart-top-categories",
            _("Tickets by category"),
            [
                Item(group_name(c.category), c.tickets, fmt.number(c.tickets, 0))
                for c in report.top_categories
            ],
        ),
        "satisfaction": columns(
            "chart-satisfaction",
            _("Ratings given, from 1 (poor) to 5 (excellent)"),
            [
                Item(str(score), count, fmt.number(count, 0))
                for score, count in sorted(report.satisfaction.distribution.items())
            ],
        ),
        "technician_sessions": bars(
            "chart-technician-sessions",
            _("Remote sessions per technician"),
            [
                Item(group_name(t.technician), t.sessions, fmt.number(t.sessions, 0))
                for t in report.technician_sessions
            ],
        ),
    }
    clusters = [
        Cluster(", ".join(c.terms), c.size, [(t.id, t.title) for t in c.tickets], c.trend, sparkline(c.trend))
        for c in report.clusters
    ]
    return ReportView(report, headline(report), charts, clusters)


def pilot_chart(comparison: PilotComparison) -> Chart:
    hours = _median(lambda g: g.resolution, 3600)
    return bars(
        "chart-pilot",
        _("Median time to resolution, pilot against the rest (hours)"),
        _items([g.stats for g in comparison.groups], hours, _name),
    )
