"""Chart geometry: bars scale to the largest value, empty values draw nothing, labels thin out."""

from __future__ import annotations

from veo.server.reports.charts import LABEL_WIDTH, VALUE_WIDTH, WIDTH, Item, bars, columns, sparkline


def test_bars_scale_to_the_largest() -> None:
    chart = bars("c", "t", [Item("a", 10, "10"), Item("b", 5, "5"), Item("c", None, "—")])
    full = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    assert [b.width for b in chart.bars] == [full, full / 2, 0]
    assert chart.bars[0].y < chart.bars[1].y < chart.bars[2].y
    assert chart.height >= 3 * 16


def test_columns_keep_every_tooltip_but_thin_labels() -> None:
    chart = columns("c", "t", [Item(str(i), i, str(i)) for i in range(30)], max_labels=10)
    assert len(chart.bars) == 30
    assert sum(b.show_label for b in chart.bars) == 10
    tallest = chart.bars[-1]
    assert tallest.y + tallest.height == chart.baseline


def test_sparkline() -> None:
    assert sparkline([]) == ""
    points = sparkline([0, 2], width=100, height=20).split()
    assert points == ["0.0,18.0", "100.0,2.0"]
