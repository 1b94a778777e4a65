"""The drop scenario's reading of the probe's events: the first new frame and the first accepted
key after the link's return, keys typed during the outage, and its line in the report."""

from __future__ import annotations

from veo.bench.stream.drop import DropResult, analyse, key_char, medians_line
from veo.bench.stream.pattern import Layout


def _key(count: int, char: str) -> int:
    """The key row's value as the workload draws it."""
    return ((count % 256) << 8) | ord(char)


DOWN, UP = 10_000.0, 20_000.0


def _result() -> DropResult:
    return DropResult("1920x1080", "unshaped", 10.0)


def test_the_first_new_frame_and_the_first_digit_after_the_return_are_timed_from_it() -> None:
    events = [
        (9_000.0, 100, _key(1, "a")),  # before the drop: the input path works
        (9_500.0, 200, None),
        (20_300.0, 200, _key(1, "a")),  # after the return, but the old picture again: not new
        (21_400.0, 300, _key(1, "a")),  # new content
        (21_900.0, 350, _key(2, "0")),  # a key typed after the return
    ]
    result = _result()
    analyse(events, DOWN, UP, result)
    assert result.first_frame_ms == 1_400.0
    assert result.first_input_ms == 1_900.0
    assert result.input_worked_before and result.outage_keys_shown == 0


def test_keys_typed_during_the_outage_are_counted_and_never_taken_for_new_input() -> None:
    events = [
        (9_000.0, 100, _key(1, "a")),
        (21_000.0, 300, _key(2, "x")),
        (21_100.0, 310, _key(3, "x")),
    ]
    result = _result()
    analyse(events, DOWN, UP, result)
    assert result.outage_keys_shown == 2
    assert result.first_input_ms is None
    assert result.first_frame_ms == 1_000.0


def test_nothing_after_the_return_leaves_the_figures_empty_and_the_line_says_none() -> None:
    result = _result()
    analyse([(5_000.0, 100, None)], DOWN, UP, result)
    assert result.first_frame_ms is None and result.first_input_ms is None
    assert not result.input_worked_before
    line = result.line()
    assert "first new frame none" in line and "first accepted input none" in line
    assert "input before the drop did NOT work" in line


def test_the_line_gives_seconds_and_the_aims() -> None:
    result = _result()
    result.first_frame_ms, result.first_input_ms, result.input_worked_before = 1640.0, 1670.0, True
    assert result.line().startswith(
        "drop 1920x1080 unshaped, link down 10 s: after its return, first new frame 1.64 s "
        "(aim <= 2 s), first accepted input 1.67 s (aim <= 3 s); code read again: no"
    )


def test_key_row_sits_above_the_timestamp_and_decodes_to_its_character() -> None:
    layout = Layout(1920, 1080)
    assert layout.keys_y + 20 < layout.y
    assert key_char(_key(300, "7")) == "7" and key_char(None) is None


def test_drops_of_several_runs_get_their_medians() -> None:
    results = [_result(), _result(), _result()]
    figures: list[tuple[float, float | None]] = [(1000.0, 1200.0), (3000.0, None), (2000.0, 2500.0)]
    for result, (frame, key) in zip(results, figures, strict=True):
        result.first_frame_ms, result.first_input_ms = frame, key
    results[1].code_asked_again = True
    assert medians_line(results) == (
        "drop medians over 3 drops: first new frame 2.00 s, first accepted input 1.85 s; code read again in 1"
    )
    assert medians_line(results[:1]) is None
