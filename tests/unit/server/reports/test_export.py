"""The CSV holds every figure of the report, one per line, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

from tests.unit.server.reports.fixture import END, START
from tests.unit.server.reports.test_compute import rows

from veo.server.reports.compute import build_report
from veo.server.reports.export import HEADER, lines, to_csv
from veo.server.reports.rows import Period


def parsed() -> dict[tuple[str, str, str], str]:
    tickets, sessions = rows()
    text = to_csv(lines(build_report(tickets, sessions, Period(START, END))))
    reader = csv.reader(io.StringIO(text))
    assert tuple(next(reader)) == HEADER
    return {(s, g, m): v for s, g, m, v in reader}


def test_figures_in_the_csv() -> None:
    figures = parsed()
    assert figures[("overall", "all", "resolution_median_s")] == "18000.0"
    assert float(figures[("overall", "all", "first_response_p90_s")]) == 46 * 60
    assert figures[("by_week", "2026-03-09", "tickets")] == "2"
    assert figures[("session_comparison", "with_session", "resolution_mean_s")] == "14400.0"
    assert figures[("rates", "", "first_contact_rate")] == "0.5"
    assert figures[("rates", "", "reopen_rate")] == "0.25"
    assert figures[("satisfaction", "", "rating_5")] == "1"
    assert figures[("top_categories", "Printing", "share")] == "0.6"
    assert figures[("technician_sessions", "Ben", "sessions")] == "2"
    assert figures[("by_week", "2026-03-02", "first_response_mean_s")] == "1200.0"


def test_no_data_is_an_empty_cell_and_formulas_are_defused() -> None:
    text = to_csv(iter([("by_category", "=HYPERLINK(1)", "tickets", None), ("x", "-1", "y", -2.5)]))
    body = list(csv.reader(io.StringIO(text)))[1:]
    assert body == [["by_category", "'=HYPERLINK(1)", "tickets", ""], ["x", "-1", "y", "-2.5"]]
