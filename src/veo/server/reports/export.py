"""The report as CSV: one figure per line, ``section,group,metric,value``.

A long format (instead of one table per section) keeps every figure of the page in one file a
spreadsheet can pivot, and lets new figures appear without breaking anyone's columns. Durations
are in seconds and rates are fractions, as in the API; empty cells mean "no data".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from veo.server.reports.compute import GroupStats, Report
from veo.server.reports.pilot import PilotComparison
from veo.server.reports.stats import Summary

HEADER = ("section", "group", "metric", "value")
Line = tuple[str, str, str, object]


def _summary(section: str, group: str, prefix: str, summary: Summary) -> Iterator[Line]:
    yield section, group, f"{prefix}_count", summary.count
    yield section, group, f"{prefix}_mean_s", summary.mean
    yield section, group, f"{prefix}_median_s", summary.median
    yield section, group, f"{prefix}_p90_s", summary.p90


def _group(section: str, stats: GroupStats) -> Iterator[Line]:
    yield section, stats.key, "tickets", stats.tickets
    yield from _summary(section, stats.key, "first_response", stats.first_response)
    yield from _summary(section, stats.key, "resolution", stats.resolution)


def lines(report: Report) -> Iterator[Line]:
    yield "period", "", "start", report.period.start.isoformat()
    yield "period", "", "end", report.period.end.isoformat()
    yield from _group("overall", report.overall)
    for section, groups in (
        ("by_week", report.by_week),
        ("by_category", report.by_category),
        ("by_technician", report.by_technician),
        ("by_priority", report.by_priority),
        ("session_comparison", report.session_comparison),
    ):
        for stats in groups:
            yield from _group(section, stats)
    for name, value in vars(report.rates).items():
        yield "rates", "", name, value
    yield "satisfaction", "", "count", report.satisfaction.count
    yield "satisfaction", "", "average", report.satisfaction.average
    for score, count in sorted(report.satisfaction.distribution.items()):
        yield "satisfaction", "", f"rating_{score}", count
    for category in report.top_categories:
        yield "top_categories", category.category, "tickets", category.tickets
        yield "top_categories", category.category, "share", category.share
    for number, cluster in enumerate(report.clusters, start=1):
        group = f"{number}: {' '.join(cluster.terms)}"
        yield "clusters", group, "size", cluster.size
        yield "clusters", group, "ticket_ids", " ".join(str(t.id) for t in cluster.tickets)
        for week, count in zip(report.weeks, cluster.trend, strict=True):
            yield "clusters", group, f"week_{week.isoformat()}", count
    for tech in report.technician_sessions:
        yield "technician_sessions", tech.technician, "sessions", tech.sessions
        yield from _summary("technician_sessions", tech.technician, "length", tech.length)


def pilot_lines(comparison: PilotComparison) -> Iterator[Line]:
    for group in comparison.groups:
        yield "pilot", group.key, "start", group.period.start.isoformat()
        yield "pilot", group.key, "end", group.period.end.isoformat()
        yield from _group("pilot", group.stats)
        yield "pilot", group.key, "first_contact_rate", group.rates.first_contact_rate
        yield "pilot", group.key, "reopen_rate", group.rates.reopen_rate
        yield "pilot", group.key, "session_share", group.session_share
        yield "pilot", group.key, "satisfaction_average", group.satisfaction_average


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    # A cell starting with =, +, - or @ would run as a formula in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(rows: Iterator[Line]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()
