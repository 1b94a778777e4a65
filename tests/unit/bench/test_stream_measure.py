"""Statistics and CPU accounting of ``veo bench stream``."""

from __future__ import annotations

import os
import time

import pytest

from veo.bench.stream.measure import CpuMeter, median, median_of, percentile


def test_percentile_interpolates_between_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(values, 0.5) == 30.0
    assert percentile(values, 0.95) == pytest.approx(48.0)
    assert percentile(values, 0.0) == 10.0
    assert percentile(values, 1.0) == 50.0


def test_percentile_does_not_depend_on_order() -> None:
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_no_values_gives_no_figure() -> None:
    assert percentile([], 0.5) is None
    assert median_of([None, None]) is None
    assert median_of([None, 3.0, 1.0]) == 2.0


def test_cpu_meter_sees_this_process_burn_cpu() -> None:
    meter = CpuMeter(lambda: [os.getpid()])
    meter.start()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    usage = meter.stop()
    assert usage.cpu_percent > 5.0
    assert usage.rss_mb > 1.0


def test_cpu_meter_of_a_process_that_is_gone_is_zero() -> None:
    meter = CpuMeter(lambda: [2**22 + 12345])  # no such pid
    meter.start()
    assert meter.stop().cpu_percent == 0.0
