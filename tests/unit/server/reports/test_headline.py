"""The reports page's first sentence: remote sessions against none, in words, or what is missing."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from veo.server.lang import set_language
from veo.server.reports import formatting as fmt
from veo.server.reports.compute import build_report
from veo.server.reports.formatting import NBSP
from veo.server.reports.headline import MIN_TICKETS, Headline, headline
from veo.server.reports.rows import Period, TicketRow

PERIOD = Period(date(2026, 3, 2), date(2026, 3, 15))
CREATED = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
CODES = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z]+\.[a-z_]+\b|\[['\"]")


@pytest.fixture(autouse=True)
def english() -> None:
    set_language("en")


def _tickets(with_minutes: list[int], without_minutes: list[int]) -> list[TicketRow]:
    rows: list[TicketRow] = []
    for sessions, minutes in [(1, m) for m in with_minutes] + [(0, m) for m in without_minutes]:
        rows.append(
            TicketRow(
                id=len(rows) + 1,
                title="Printer jams",
                description="",
                created_at=CREATED,
                first_response_at=CREATED + timedelta(minutes=1),
                resolved_at=CREATED + timedelta(minutes=minutes),
                sessions=sessions,
            )
        )
    return rows


def _headline(with_minutes: list[int], without_minutes: list[int]) -> Headline:
    """The headline with ordinary spaces (durations use non-breaking ones, checked below)."""
    report = build_report(_tickets(with_minutes, without_minutes), [], PERIOD, with_clusters=False)
    h = headline(report)
    if h.chart is not None:
        bars = [replace(b, text=b.text.replace(NBSP, " ")) for b in h.chart.bars]
        h = replace(h, chart=replace(h.chart, bars=bars))
    return replace(h, sentence=h.sentence.replace(NBSP, " "))


def test_faster_says_both_medians_and_the_difference() -> None:
    h = _headline([100, 130, 130, 140, 200], [300, 315, 315, 320, 900])
    assert h.outcome == "faster"
    assert h.sentence == (
        "Tickets with a remote session were resolved in a median of 2 h 10 min, "
        "3 h 05 min faster than those without (5 h 15 min)."
    )
    assert "5 resolved tickets with a remote session and 5 without" in h.detail
    assert "Mar 2, 2026" in h.detail
    chart = h.chart
    assert chart is not None
    assert [b.label for b in chart.bars] == ["With a remote session", "Without a remote session"]
    assert [b.text for b in chart.bars] == ["2 h 10 min", "5 h 15 min"]
    assert chart.bars[0].width < chart.bars[1].width


def test_slower_and_same_are_said_plainly() -> None:
    slower = _headline([600] * 5, [60] * 5)
    assert slower.outcome == "slower"
    assert "took a median of 10 h 00 min to resolve, 9 h 00 min longer" in slower.sentence
    same = _headline([90] * 5, [90] * 6)
    assert same.outcome == "same" and "the same as those without" in same.sentence


@pytest.mark.parametrize(
    ("with_minutes", "without_minutes", "needle"),
    [
        ([], [], "has been resolved yet"),
        ([60] * (MIN_TICKETS - 1), [120] * 20, "4 with and 20 without"),
        ([60] * 20, [120] * (MIN_TICKETS - 1), "20 with and 4 without"),
    ],
)
def test_not_enough_data_says_what_is_missing(
    with_minutes: list[int], without_minutes: list[int], needle: str
) -> None:
    h = _headline(with_minutes, without_minutes)
    assert h.outcome == "not_enough" and h.chart is None
    assert needle in h.sentence and "at least 5 resolved tickets" in h.detail


def test_spanish_and_no_internal_codes() -> None:
    set_language("es")
    h = _headline([100, 130, 130, 140, 200], [300, 315, 315, 320, 900])
    assert h.chart is not None
    text = f"{h.sentence} {h.detail} " + " ".join(b.label for b in h.chart.bars)
    assert "2 h 10 min" in text and "Con sesión remota" in text
    assert "remote" not in text and not CODES.search(text), text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (20, "0 min"),
        (45 * 60, "45 min"),
        (7800, "2 h 10 min"),
        (3 * 86400 + 4 * 3600, "3 days 4 h"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert fmt.duration(seconds) == text.replace(" ", NBSP)


def test_only_resolved_tickets_count_towards_the_comparison() -> None:
    """Open tickets have no resolution time: they neither make a median worth comparing nor are
    counted as resolved in the sentence."""
    rows = _tickets([100] * 2, [300] * 5)
    for _ in range(4):  # four more tickets with a session, still open
        rows.append(replace(rows[0], id=len(rows) + 1, resolved_at=None))
    h = headline(build_report(rows, [], PERIOD, with_clusters=False))
    assert h.outcome == "not_enough", h.sentence
    assert "2 with and 5 without" in h.sentence

    rows = _tickets([100] * 5, [300] * 5)
    rows.append(replace(rows[0], id=len(rows) + 1, resolved_at=None))
    h = headline(build_report(rows, [], PERIOD, with_clusters=False))
    assert h.outcome == "faster"
    assert "5 resolved tickets with a remote session and 5 without" in h.detail, h.detail


def test_nothing_resolved_yet_says_so_even_with_open_tickets() -> None:
    rows = [replace(r, resolved_at=None) for r in _tickets([100] * 3, [300] * 3)]
    h = headline(build_report(rows, [], PERIOD, with_clusters=False))
    assert h.outcome == "not_enough"
    assert "has been resolved yet" in h.sentence, h.sentence
