"""Summary statistics checked against values worked out by hand."""

from __future__ import annotations

import pytest

from veo.server.reports.stats import EMPTY, percentile, rate, summarize


def test_summary_of_five_values() -> None:
    # sorted 10 20 30 40 50: median is the middle one; p90 sits at position 0.9 * 4 = 3.6,
    # 60 % of the way from 40 to 50.
    summary = summarize([50, 10, 40, 20, 30])
    assert summary.count == 5
    assert summary.mean == 30
    assert summary.median == 30
    assert summary.p90 == pytest.approx(46)


def test_even_count_median_is_between_the_middle_two() -> None:
    summary = summarize([2, 4, 6, 8])
    assert summary.median == 5  # position 1.5: half way from 4 to 6
    assert summary.p90 == pytest.approx(7.4)  # position 2.7: 70 % from 6 to 8


def test_one_value_and_none() -> None:
    one = summarize([7])
    assert (one.count, one.mean, one.median, one.p90) == (1, 7, 7, 7)
    assert summarize([]) == EMPTY


def test_percentile_needs_values() -> None:
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_rate() -> None:
    assert rate(1, 4) == 0.25
    assert rate(0, 0) is None
