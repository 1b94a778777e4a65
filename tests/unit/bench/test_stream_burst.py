"""The burst scenario's reading of the probe: typing latency before, the recovery after the burst's
end (three samples in a row back under the threshold), stalls and updates during the burst."""

from __future__ import annotations

from veo.bench.stream.burst import BurstResult, analyse, target_rows
from veo.bench.stream.pattern import MODULUS

T0 = 1_796_000_000_000.0
START, END = T0 + 6_000.0, T0 + 8_000.0


def _sample(drawn: float, latency: float) -> tuple[float, int]:
    """A sighting: the value drawn at ``drawn`` first seen ``latency`` ms later."""
    return drawn + latency, int(drawn) % MODULUS


def _typing(first: float, last: float, latency: float) -> list[tuple[float, int]]:
    return [_sample(first + i * 125.0, latency) for i in range(int((last - first) / 125.0))]


def _result() -> BurstResult:
    return BurstResult("1920x1080", "poor", 2.0)


def test_recovery_is_timed_from_the_bursts_end_to_three_samples_in_a_row_back() -> None:
    before = _typing(T0, START, 80.0)
    burst = [_sample(START + i * 100.0, 400.0) for i in range(20)]  # 10 updates/s, slow
    after = [
        _sample(END + 0.0, 900.0),  # the burst's queue drains
        _sample(END + 125.0, 600.0),
        _sample(END + 250.0, 90.0),  # one lucky frame: not yet a recovery
        _sample(END + 375.0, 300.0),
        *_typing(END + 1_500.0, END + 4_000.0, 85.0),  # back from here
    ]
    result = _result()
    analyse(before + burst + after, START, END, result)
    assert result.before_median_ms == 80.0
    assert result.threshold_ms == 110.0  # median + 30 ms (the p90 is 80 too)
    assert result.recovery_ms == 1_500.0 + 85.0
    assert result.updates_per_s_burst == 10.0
    assert result.latency_median_burst_ms == 400.0
    assert result.stalls == []  # the longest gap: shown at +675 ms, then at +1,585 ms (910 ms)
    assert result.max_gap_ms is not None and result.max_gap_ms < 1000


def test_a_gap_over_a_second_after_the_start_is_a_stall_and_no_return_is_never() -> None:
    before = _typing(T0, START, 80.0)
    after = [_sample(END + 500.0, 2_000.0), _sample(END + 3_000.0, 900.0), _sample(END + 3_100.0, 800.0)]
    result = _result()
    analyse(before + after, START, END, result)
    assert result.recovery_ms is None
    assert result.updates_per_s_burst == 0.0
    assert [round(gap) for _, gap in result.stalls] == [4_500, 1_400]
    assert "never within the run" in result.line()
    rows = target_rows([result.as_json()])
    assert len(rows) == 1 and rows[0].met is False and "never" in rows[0].figures


def test_the_threshold_is_the_pre_burst_p90_when_the_link_is_noisy() -> None:
    noisy = [_sample(T0 + i * 125.0, 80.0 + (200.0 if i % 5 == 0 else 0.0)) for i in range(40)]
    result = _result()
    analyse(noisy, START, END, result)
    assert result.before_median_ms == 80.0
    assert result.threshold_ms == 280.0


def test_target_rows_judge_two_seconds_and_say_when_nothing_was_measured() -> None:
    result = _result()
    analyse(_typing(T0, START, 80.0) + _typing(END, END + 3_000.0, 80.0), START, END, result)
    assert result.recovery_ms == 80.0
    (row,) = target_rows([result.as_json()])
    assert row.met is True and row.case == "veo 1920x1080 poor"
    (empty,) = target_rows([])
    assert empty.met is None


def test_frames_sent_during_a_stall_and_the_workloads_own_pace_are_read() -> None:
    from types import SimpleNamespace

    from veo.bench.stream.burst import burst_times, drawn_rate, sent_in

    frames = [
        SimpleNamespace(times={"sent": START + t}, bytes=1000) for t in (100.0, 2_600.0, 3_000.0, 5_000.0)
    ]
    assert sent_in(frames, START, [(2_500.0, 1_000.0)]) == [(2, 2000)]  # 2.6 s and 3.0 s
    lines = [
        "ready",
        "steps 10 100.000",
        "steps 12 100.250",
        "steps 42 104.250",
        "burst end 1796000008.000 100.1",
    ]
    assert drawn_rate(lines, 100.1, 4.0) == (42 - 10) / 4.25  # the reports around the window
    assert drawn_rate(lines, 200.0, 4.0) is None
    assert burst_times(["burst start 1796000006.000", *lines]) == (1_796_000_006_000.0, 1_796_000_008_000.0)
