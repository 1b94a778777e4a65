"""Frame conversion (change detection, odd sizes) and the local history file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from veo.agent import history
from veo.agent.capture.base import Size
from veo.agent.stream import FrameConverter


def _screen(width: int, height: int, blue: int) -> bytes:
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 0] = blue
    pixels[..., 3] = 255
    return pixels.tobytes()


def test_unchanged_screen_gives_no_new_frame_unless_forced() -> None:
    converter = FrameConverter(Size(64, 48))
    first = converter.convert(_screen(64, 48, 10))
    assert first is not None and first.format.name == "yuv420p" and (first.width, first.height) == (64, 48)
    assert converter.convert(_screen(64, 48, 10)) is None
    assert converter.convert(_screen(64, 48, 10), force=True) is not None
    changed = converter.convert(_screen(64, 48, 200))
    assert changed is not None
    # the converted frames are independent of the reused source buffer
    assert not np.array_equal(first.to_ndarray(), changed.to_ndarray())


def test_odd_sizes_are_cropped_to_even() -> None:
    converter = FrameConverter(Size(65, 49))
    frame = converter.convert(_screen(65, 49, 50))
    assert converter.size == Size(64, 48)
    assert frame is not None and (frame.width, frame.height) == (64, 48)


def test_wrong_buffer_size_is_an_error() -> None:
    with pytest.raises(ValueError, match="screen size"):
        FrameConverter(Size(64, 48)).convert(b"\x00" * 10)


def test_history_appends_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "sub" / "history.jsonl"
    monkeypatch.setenv("VEO_AGENT_HISTORY", str(target))
    assert history.history_path() == target
    entry = history.HistoryEntry(
        started_at="2026-01-01T10:00:00+00:00",
        ended_at="2026-01-01T10:05:00+00:00",
        server="https://support.example",
        session_id="s1",
        organization="ACME",
        technician="Ana Pérez",
        ticket_id=3,
        ticket_title="Impresora",
        granted=["view"],
        ended_by="user",
        reason="user_stopped",
    )
    history.append(entry)
    history.append(entry)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["technician"] == "Ana Pérez"


def test_history_failure_does_not_raise(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    entry = history.HistoryEntry("a", "b", "c", "d", "e", "f", 1, "g", [], "user", "denied")
    history.append(entry, blocker / "history.jsonl")  # parent is a file: logged, not raised
