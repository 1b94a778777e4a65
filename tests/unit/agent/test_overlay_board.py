"""overlay/board.py: the fade schedule (with an injected clock), the bounds, the pointer's idle."""

from __future__ import annotations

from veo.agent.overlay.board import (
    FADE,
    FADE_STEPS,
    HOLD,
    LASER_FADE,
    LASER_HOLD,
    MAX_STROKES,
    POINTER_IDLE,
    STALE,
    StrokeBoard,
)


def widths(board: StrokeBoard, now: float) -> dict[str, int]:
    return {i: look.width for i, look in board.looks(now).items()}


def test_a_finished_stroke_holds_then_thins_in_steps_then_goes() -> None:
    board = StrokeBoard()
    board.annotate("s", "free", [(0, 0), (9, 9)], "#00ff00", 8, False, now=0.0)
    assert widths(board, STALE - 0.5) == {"s": 8}  # still being drawn: no fade
    board.annotate("s", "free", [(0, 0), (9, 9), (20, 20)], "#00ff00", 8, True, now=10.0)
    assert board.next_change(10.0) == 10.0 + HOLD
    seen = [widths(board, 10.0 + t).get("s", 0) for t in (0.0, HOLD - 0.01, HOLD + 0.01, HOLD + FADE * 0.5)]
    assert seen[:2] == [8, 8]
    assert 8 > seen[2] > seen[3] > 0
    assert (
        len({widths(board, 10.0 + HOLD + FADE * k / FADE_STEPS + 0.01)["s"] for k in range(FADE_STEPS)}) == 3
    )
    assert widths(board, 10.0 + HOLD + FADE + 0.01) == {}
    assert not board.strokes  # gone from the board, not just hidden
    assert board.next_change(20.0) is None


def test_the_laser_fades_sooner() -> None:
    board = StrokeBoard()
    board.annotate("l", "laser", [(0, 0), (5, 5)], "#00ff00", 4, True, now=0.0)
    board.annotate("a", "arrow", [(0, 0), (5, 5)], "#00ff00", 4, True, now=0.0)
    assert set(widths(board, LASER_HOLD + LASER_FADE + 0.01)) == {"a"}
    assert LASER_HOLD + LASER_FADE < 1.5 < HOLD


def test_a_stroke_never_finished_goes_anyway() -> None:
    board = StrokeBoard()
    board.annotate("s", "rect", [(0, 0), (5, 5)], "#00ff00", 4, False, now=0.0)
    assert widths(board, STALE + HOLD + FADE + 0.01) == {}


def test_a_finished_stroke_does_not_come_back_and_updates_bump_the_version() -> None:
    board = StrokeBoard()
    assert board.annotate("s", "free", [(0, 0)], "#00ff00", 4, False, now=0.0)
    assert board.annotate("s", "free", [(0, 0), (1, 1)], "#00ff00", 4, True, now=0.1)
    assert board.looks(0.2)["s"].version == 1
    assert not board.annotate("s", "free", [(0, 0), (1, 1), (2, 2)], "#00ff00", 4, True, now=0.3)
    assert board.looks(0.4)["s"].points == ((0, 0), (1, 1))


def test_strokes_are_bounded_oldest_first_and_erase_one_or_all() -> None:
    board = StrokeBoard()
    for i in range(MAX_STROKES + 10):
        board.annotate(f"k{i}", "free", [(i, 0)], "#00ff00", 2, True, now=0.0)
    ids = list(board.looks(0.0))
    assert len(ids) == MAX_STROKES and ids[0] == "k10"
    assert board.erase("k20") == ["k20"]
    assert board.erase("nope") == []
    assert len(board.erase("")) == MAX_STROKES - 1
    assert board.looks(0.0) == {}


def test_the_pointer_hides_after_it_stops_moving() -> None:
    board = StrokeBoard()
    assert not board.pointer.shown(0.0)
    board.move_pointer(10, 20, True, now=5.0)
    assert board.pointer.shown(5.0 + POINTER_IDLE - 0.1)
    assert board.next_change(5.5) == 5.0 + POINTER_IDLE
    assert not board.pointer.shown(5.0 + POINTER_IDLE)
    board.move_pointer(10, 20, False, now=9.0)
    assert not board.pointer.shown(9.0)
