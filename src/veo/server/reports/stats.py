"""Summary statistics of durations: count, mean, median and 90th percentile.

Percentiles use linear interpolation between closest ranks (the "inclusive" method, the default of
NumPy and of spreadsheet ``PERCENTILE.INC``), so a person can check a figure with pencil and paper:
for ``n`` sorted values the p-th percentile sits at position ``(n - 1) * p`` (0-based).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Summary:
    """Durations in seconds; the figures are None when there is nothing to summarize."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None


EMPTY = Summary(0, None, None, None)


def percentile(ordered: list[float], fraction: float) -> float:
    """The ``fraction`` (0..1) percentile of an already sorted, non-empty list."""
    if not ordered:
        raise ValueError("percentile of no values")
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(values: Iterable[float]) -> Summary:
    ordered = sorted(values)
    if not ordered:
        return EMPTY
    return Summary(
        count=len(ordered),
        mean=math.fsum(ordered) / len(ordered),
        median=percentile(ordered, 0.5),
        p90=percentile(ordered, 0.9),
    )


def summarize_array(values: NDArray[np.float64]) -> Summary:
    """:func:`summarize` of an array, NaN meaning "no value" (sorted by NumPy, same figures)."""
    ordered: list[float] = np.sort(values[~np.isnan(values)]).tolist()
    if not ordered:
        return EMPTY
    return Summary(
        count=len(ordered),
        mean=math.fsum(ordered) / len(ordered),
        median=percentile(ordered, 0.5),
        p90=percentile(ordered, 0.9),
    )


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` as a fraction, None when there is no whole to speak of."""
    return part / whole if whole else None
