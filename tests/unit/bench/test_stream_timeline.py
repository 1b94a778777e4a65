"""The stage timeline: the agent's ``frame-timeline`` lines parsed into per-stage figures, and each
pattern value the probe saw joined with the frame that first carried it."""

from __future__ import annotations

import pytest

from veo.bench.stream.pattern import MODULUS
from veo.bench.stream.timeline import drawn_at, join, parse, parse_line, stage_figures, summary_line

T0 = 1_796_000_000_000.0  # a wall clock in ms, far above the pattern's modulus


def _line(at: float, pts: int = 0, size: tuple[int, int] = (1920, 1080)) -> str:
    """A frame grabbed at ``at``, noticed 1 ms before, sent 11 ms after the grab."""
    wake = at - 1.0
    stamps = {
        "wake": wake,
        "grab": at,
        "compare": at + 1.5,
        "convert": at + 3.0,
        "encode_start": at + 3.5,
        "encode_end": at + 9.0,
        "sent": at + 11.0,
    }
    text = " ".join(f"{k}={v:.3f}" for k, v in stamps.items())
    return (
        f"2026-12-07 03:00:00,000 INFO veo.agent.timeline frame-timeline pts={pts} {text} "
        f"bytes=1234 width={size[0]} height={size[1]}"
    )


def test_a_line_gives_its_stamps_bytes_and_size_and_other_lines_nothing() -> None:
    frame = parse_line(_line(T0, size=(3840, 2160)))
    assert frame is not None
    assert frame.times["grab"] == T0 and frame.times["sent"] == T0 + 11.0
    assert (frame.bytes, frame.width, frame.height) == (1234, 3840, 2160)
    assert parse_line("INFO session started granted=view") is None
    assert parse_line("frame-timeline pts=1 wake=1.0 grab=2.0") is None  # incomplete: left out


def test_parse_keeps_the_window_and_orders_by_grab() -> None:
    lines = [_line(T0 + 200), "noise", _line(T0), _line(T0 + 100), _line(T0 + 5000)]
    frames = parse(lines, start_ms=T0, end_ms=T0 + 1000)
    assert [f.times["grab"] for f in frames] == [T0, T0 + 100, T0 + 200]


def test_the_drawing_time_is_the_latest_earlier_time_with_the_values_low_bits() -> None:
    drawn = T0 + 37.0
    value = int(drawn) % MODULUS
    assert drawn_at(drawn + 80.0, value) == drawn
    assert drawn_at(drawn, value) == drawn  # seen at once: zero latency, not a whole modulus


def test_each_sighting_joins_the_first_frame_grabbed_after_its_drawing() -> None:
    frames = parse([_line(T0), _line(T0 + 33), _line(T0 + 66)])
    drawn = T0 + 20.0  # drawn between the first and the second grab: the second frame carries it
    seen = T0 + 33 + 11 + 40  # 40 ms after that frame was sent
    joined = join(frames, [(seen, int(drawn) % MODULUS)])
    assert len(joined) == 1
    row = joined[0]
    assert row["grab"] == T0 + 33 and row["draw"] == drawn and row["shown"] == seen
    assert row["shown"] - row["sent"] == pytest.approx(40.0)


def test_a_sighting_no_frame_explains_is_left_out() -> None:
    frames = parse([_line(T0)])
    late_drawing = T0 + 500.0  # no frame grabbed after it
    shown_before_sent = T0 + 5.0  # the frame was sent at T0 + 11
    assert join(frames, [(late_drawing + 30, int(late_drawing) % MODULUS)]) == []
    assert join(frames, [(shown_before_sent, int(T0 - 10) % MODULUS)]) == []


def test_stage_figures_give_medians_and_p95_per_stage_and_a_short_line() -> None:
    frames = parse([_line(T0 + 33 * i) for i in range(10)])
    sightings = [(T0 + 33 * i + 11 + 40, int(T0 + 33 * i - 5) % MODULUS) for i in range(1, 10)]
    figures = stage_figures(frames, sightings)
    assert figures["encode"]["median"] == 5.5 and figures["encode"]["n"] == 10
    assert figures["wake_grab"]["median"] == 1.0
    assert figures["sent_shown"]["median"] == 40.0 and figures["sent_shown"]["n"] == 9
    assert figures["draw_shown"]["median"] == 56.0  # 5 before the grab + 11 + 40
    line = summary_line(figures)
    assert "encode 5.5 (5.5)" in line and "sent_shown 40.0 (40.0)" in line


def test_no_lines_says_so() -> None:
    figures = stage_figures([], [(T0, 5)])
    assert all(stats["n"] == 0 and stats["median"] is None for stats in figures.values())
    assert summary_line(figures).endswith("no frame-timeline lines")


def test_per_case_takes_the_median_of_the_runs_figures() -> None:
    from types import SimpleNamespace

    from veo.bench.stream.timeline import per_case

    def run(encode: float) -> SimpleNamespace:
        stages = {"encode": {"median": encode, "p95": encode * 2, "n": 10}}
        return SimpleNamespace(name="veo/auto", resolution="1920x1080", console="1920x1080",
                               network="unshaped", workload="typing", stages=stages)  # fmt: skip

    vnc = SimpleNamespace(name="vnc", resolution="1920x1080", console="", network="unshaped",
                          workload="typing", stages=None)  # fmt: skip
    (case,) = per_case([run(4.0), run(6.0), run(5.0), vnc])
    assert case["runs"] == 3 and case["system"] == "veo/auto"
    assert case["stages"]["encode"] == {"median": 5.0, "p95": 10.0}
    assert case["stages"]["sent_shown"] == {"median": None, "p95": None}
