"""The stream's frame source (change detection, keep-alive, partial conversion), pacing, and history."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest

from veo.agent import convert, history
from veo.agent.capture.base import ScreenCapture, Size
from veo.agent.convert import INTERPOLATION, YuvCanvas
from veo.agent.damage import Rect
from veo.agent.pacing import Pacer, auto_max_fps
from veo.agent.stream import SHARPEN_LIMIT, FrameSource, ScreenTrack
from veo.tasks import spawn


class FakeScreen(ScreenCapture):
    """A screen whose pixels the test paints (BGRA, as mss returns them)."""

    def __init__(self, width: int, height: int) -> None:
        self.pixels = np.zeros((height, width, 4), np.uint8)
        self.pixels[..., 3] = 255
        self.grabs = 0

    def size(self) -> Size:
        return Size(self.pixels.shape[1], self.pixels.shape[0])

    def grab(self) -> bytes:
        self.grabs += 1
        return self.pixels.tobytes()

    def close(self) -> None:
        pass


def _rgb(frame: av.VideoFrame) -> npt.NDArray[np.uint8]:
    rgb = np.asarray(frame.to_ndarray(format="rgb24"), np.uint8)
    return rgb


def _stop(track: ScreenTrack) -> None:
    """Stop and wait for the capture thread's last words (its stats line), so they are not
    logged after pytest has closed the captured stream."""
    track.stop()
    track._executor.shutdown(wait=True)


def test_unchanged_screen_sends_nothing_until_the_keepalive() -> None:
    screen = FakeScreen(64, 48)
    source = FrameSource(screen, keepalive_seconds=1.0, refine_seconds=1.0)
    first = source.next(now=10.0)
    assert first is not None and first.format.name == "yuv420p" and (first.width, first.height) == (64, 48)
    assert source.next(now=10.1) is None
    assert source.next(now=10.9) is None
    assert source.unchanged == 2 and source.keepalives == 0
    kept = source.next(now=11.0)  # one interval after the last frame: the keep-alive
    assert kept is not None and source.keepalives == 1
    assert source.next(now=11.5) is None
    assert source.next(now=11.6, force=True) is not None


def test_a_still_screen_is_repeated_soon_then_ever_less_often_up_to_the_keepalive() -> None:
    """The early repeats let the encoder sharpen a busy change; the keep-alive caps the spacing."""
    screen = FakeScreen(64, 48)
    source = FrameSource(screen, keepalive_seconds=2.0, refine_seconds=0.25)
    assert source.next(now=0.0) is not None
    sent = []
    for step in range(1, 160):  # 8 s in 50-ms polls
        now = step * 0.05
        if source.next(now=now) is not None:
            sent.append(round(now, 2))
    assert sent == [0.25, 0.75, 1.75, 3.75, 5.75, 7.75]
    screen.pixels[0:4, 0:4, 1] = 200  # a change starts the short repeats again
    assert source.next(now=8.0) is not None
    assert source.repeat_at == 8.25


def test_repeats_follow_soon_while_they_still_sharpen_then_the_doubling_resumes() -> None:
    """A repeat that came out large means the encoder is still sharpening a coarse picture (each
    frame is held to its peak cap): the next one follows SHARPEN_SECONDS later, not twice as late.
    Once a repeat is small the doubling resumes where it was."""
    screen = FakeScreen(64, 48)
    sizes = iter([40_000, 40_000, 30_000, 900, 25, 25, 25, 25])  # what the encoder reports
    last = [40_000]  # the change itself: a large frame

    source = FrameSource(
        screen,
        keepalive_seconds=2.0,
        refine_seconds=0.25,
        last_frame_bytes=lambda: last[0],
        link_bitrate=lambda: 100e6,  # a fast link: 40 KB take 3 ms, so SHARPEN_SECONDS rules
    )
    assert source.next(now=0.0) is not None
    sent = []
    for step in range(1, 100):  # 5 s in 50-ms polls
        now = round(step * 0.05, 2)
        if source.next(now=now) is not None:
            sent.append(now)
            last[0] = next(sizes)
    # 0.25: the first repeat (the change was large); 0.35, 0.45, 0.55: the repeats before it
    # were large; then 900 and 25 bytes: sharp, so 0.5, 1 and 2 s apart as without sharpening
    assert sent[:7] == [0.25, 0.35, 0.45, 0.55, 0.65, 1.15, 2.15]
    assert source.sharpening == 4


@pytest.mark.parametrize(
    ("bitrate", "expected"),
    [
        (None, [0.25, 0.75, 1.75]),  # no estimate yet (the session's start): the doubling alone
        (2e6, [0.25, 0.41, 0.57]),  # 40 KB at 2 Mbit/s: one every 0.16 s, what the link carries
        (0.4e6, [0.25, 0.75, 1.55]),  # 0.8 s each: the doubling's 0.5 s first, then 0.8 s (< 1 s)
    ],
)
def test_early_repeats_wait_for_the_link_estimate_to_carry_the_last(
    bitrate: float | None, expected: list[float]
) -> None:
    screen = FakeScreen(64, 48)
    source = FrameSource(
        screen,
        keepalive_seconds=2.0,
        refine_seconds=0.25,
        last_frame_bytes=lambda: 40_000,
        link_bitrate=lambda: bitrate,
    )
    assert source.next(now=0.0) is not None
    sent = [step / 100 for step in range(1, 200) if source.next(now=step / 100) is not None]
    assert sent[:3] == pytest.approx(expected, abs=0.011)  # polled every 10 ms


def test_early_repeats_stop_after_the_limit_even_if_they_stay_large() -> None:
    screen = FakeScreen(64, 48)
    source = FrameSource(
        screen,
        keepalive_seconds=2.0,
        refine_seconds=0.25,
        last_frame_bytes=lambda: 40_000,
        link_bitrate=lambda: 100e6,
    )
    assert source.next(now=0.0) is not None
    sent = [step / 100 for step in range(1, 1000) if source.next(now=step / 100) is not None]
    assert source.sharpening == SHARPEN_LIMIT
    early = [b - a for a, b in itertools.pairwise(sent) if b - a < 0.2]
    assert len(early) == SHARPEN_LIMIT  # one after each early repeat; then the doubling: 0.5, 1, 2 s
    assert sent[-1] - sent[-2] == pytest.approx(2.0)


def test_a_change_is_sent_at_once_and_only_its_tiles_are_converted() -> None:
    screen = FakeScreen(256, 128)
    source = FrameSource(screen)
    assert source.next(now=0.0) is not None
    whole = source.pixels_converted
    assert whole == 256 * 128
    screen.pixels[70:75, 130:140, 2] = 255  # a red mark inside tile (row 1, col 2)
    frame = source.next(now=0.01)
    assert frame is not None
    assert source.pixels_converted - whole == 64 * 64
    rgb = _rgb(frame)
    assert rgb[72, 135, 0] > 200 and rgb[72, 135, 2] < 60  # the mark is in the picture
    assert rgb[10, 10].max() < 30  # the rest is still black


def _whole(pixels: npt.NDArray[np.uint8]) -> av.VideoFrame:
    """The whole picture converted at once, by the converter the canvas uses."""
    if convert.native is None:
        return av.VideoFrame.from_ndarray(pixels, format="bgra").reformat(
            format="yuv420p", interpolation=INTERPOLATION
        )
    height, width = pixels.shape[:2]
    canvas = YuvCanvas(Size(width, height))
    canvas.update(pixels.view(np.uint32).reshape(height, width), [Rect(0, 0, width, height)])
    return canvas.frame


@pytest.mark.usefixtures("unscaled_converter")
def test_patched_frame_equals_a_whole_conversion() -> None:
    rng = np.random.default_rng(7)
    screen = FakeScreen(320, 200)
    screen.pixels[..., :3] = rng.integers(0, 256, (200, 320, 3), dtype=np.uint8)
    source = FrameSource(screen)
    assert source.next(now=0.0) is not None
    screen.pixels[33:90, 150:201, :3] = rng.integers(0, 256, (57, 51, 3), dtype=np.uint8)
    patched = source.next(now=0.1)
    assert patched is not None
    reference = _whole(screen.pixels)
    for index in range(3):
        assert bytes(patched.planes[index]) == bytes(reference.planes[index])
    screen.pixels[2:, :, :3] = rng.integers(0, 256, (198, 320, 3), dtype=np.uint8)  # scrolled: all
    whole = source.next(now=0.2)
    assert whole is not None and source.pixels_converted == 2 * 320 * 200 + 128 * 128  # first, patch, whole
    reference = _whole(screen.pixels)
    for index in range(3):
        assert bytes(whole.planes[index]) == bytes(reference.planes[index])


def test_odd_sizes_are_cropped_to_even() -> None:
    source = FrameSource(FakeScreen(65, 49))
    frame = source.next(now=0.0)
    assert source.size == Size(64, 48)
    assert frame is not None and (frame.width, frame.height) == (64, 48)


def test_wrong_buffer_size_is_an_error() -> None:
    class Short(FakeScreen):
        def grab(self) -> bytes:
            return b"\x00" * 10

    with pytest.raises(ValueError, match="screen size"):
        FrameSource(Short(64, 48)).next(now=0.0)


def test_pacer_caps_the_rate_without_bursts() -> None:
    clock = [100.0]
    pacer = Pacer(30.0, clock=lambda: clock[0])
    assert pacer.delay() == 0.0  # the first capture is immediate
    pacer.captured()
    clock[0] += 0.010
    assert pacer.delay() == pytest.approx(1 / 30 - 0.010)
    clock[0] += 1.0  # long stall: capture now, and the next one a full interval later (no burst)
    assert pacer.delay() == 0.0
    pacer.captured()
    assert pacer.delay() == pytest.approx(1 / 30)


def test_pacer_keeps_its_grid_when_captures_are_a_little_late() -> None:
    """Wake-up jitter must not turn a 30-fps cap into 27 fps; a real stall restarts the grid."""
    clock = [100.0]
    pacer = Pacer(30.0, clock=lambda: clock[0])
    pacer.captured()
    captures = 0
    while clock[0] < 101.0 - 1e-9:
        clock[0] += pacer.delay() + 0.003  # every capture 3 ms later than its slot
        pacer.captured()
        captures += 1
    assert captures == 30
    clock[0] += 0.5  # a stall: the next slot is a full interval after the late capture
    pacer.captured()
    assert pacer.delay() == pytest.approx(1 / 30)


def test_rate_cap_is_the_cheap_frames_whatever_the_size() -> None:
    """The pacer lowers it by what frames cost (``test_agent_pacer``), not by picture size."""
    assert auto_max_fps(Size(1280, 720)) == 60.0
    assert auto_max_fps(Size(1920, 1080)) == 60.0


async def test_rate_cap_is_set_by_the_picture_size_before_the_first_frame() -> None:
    screen = FakeScreen(64, 48)
    track = ScreenTrack(lambda: screen, damage_factory=None)  # no --max-fps: by size
    try:
        track.allow()
        await track.recv()
        assert track._pacer.interval == pytest.approx(1 / 60)
    finally:
        _stop(track)


async def test_keyframe_request_sends_the_unchanged_screen_at_once() -> None:
    screen = FakeScreen(64, 48)
    track = ScreenTrack(lambda: screen, fps=1000.0, keepalive_seconds=3600.0, damage_factory=None)
    try:
        track.allow()
        await track.recv()
        track.keyframe_requested()  # what aiortc's sender calls on a PLI (see low_latency)
        again = await asyncio.wait_for(track.recv(), 30)
        assert again is not None and track.frames_sent == 2
    finally:
        _stop(track)


class FakeDamage:
    """Stands for the X DAMAGE listener: the test says when something was drawn."""

    def __init__(self, on_damage: Callable[[], None]) -> None:
        self.on_damage = on_damage
        self.alive = True
        self.rearmed = 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        pass

    def rearm(self) -> None:
        self.rearmed += 1

    def close(self) -> None:
        self.alive = False


def damage_track(screen: FakeScreen, **options: Any) -> tuple[ScreenTrack, list[FakeDamage]]:
    """A track on ``screen`` whose damage watchers are fakes the test fires by hand.

    The keepalive is an hour, so every frame after the first comes from a fired watcher.
    """
    watchers: list[FakeDamage] = []

    def factory(on_damage: Callable[[], None]) -> Any:
        watchers.append(FakeDamage(on_damage))
        return watchers[-1]

    return ScreenTrack(lambda: screen, keepalive_seconds=3600.0, damage_factory=factory, **options), watchers


async def test_track_captures_when_damage_is_reported_and_not_before() -> None:
    screen = FakeScreen(64, 48)
    track, watchers = damage_track(screen, fps=1000.0)
    try:
        track.allow()
        await track.recv()  # the first frame needs no damage
        grabs = screen.grabs
        waiting = spawn(track.recv(), name="test-recv")
        await asyncio.sleep(0.05)
        assert not waiting.done() and screen.grabs == grabs  # no damage: not even a grab
        screen.pixels[10:12, 10:12, 0] = 255
        watchers[0].on_damage()  # something was drawn
        frame = await asyncio.wait_for(waiting, 30)
        # armed again before each grab (2) and right after the drawing it saw (1: each drawing
        # is seen, for the cadence)
        assert frame is not None and screen.grabs == grabs + 1 and watchers[0].rearmed == 3
    finally:
        _stop(track)
    assert not watchers[0].alive  # stop() closes the listener


class PictureScreen(FakeScreen):
    """A screen that is told of each new picture itself (as PipeWire is)."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__(width, height)
        self.watcher: FakeDamage | None = None

    def change_watcher(self, on_change: Callable[[], None]) -> FakeDamage:
        self.watcher = FakeDamage(on_change)
        return self.watcher


async def test_track_waits_for_the_captures_own_new_pictures_instead_of_x_damage() -> None:
    screen = PictureScreen(64, 48)

    def no_x_damage(on_damage: Callable[[], None]) -> Any:
        raise AssertionError("the capture's own watcher is used, X DAMAGE is not opened")

    track = ScreenTrack(lambda: screen, fps=1000.0, keepalive_seconds=3600.0, damage_factory=no_x_damage)
    try:
        track.allow()
        await track.recv()
        watcher = screen.watcher
        assert watcher is not None
        grabs = screen.grabs
        waiting = spawn(track.recv(), name="test-recv")
        await asyncio.sleep(0.1)
        assert not waiting.done() and screen.grabs == grabs  # still screen: not even a grab
        screen.pixels[5:9, 5:9, 2] = 255
        watcher.on_damage()  # a new picture arrived
        frame = await asyncio.wait_for(waiting, 30)
        assert frame is not None and screen.grabs == grabs + 1
    finally:
        _stop(track)
    assert not watcher.alive  # stop() closes it


async def test_track_sends_nothing_for_an_unchanged_screen() -> None:
    screen = FakeScreen(64, 48)
    track = ScreenTrack(lambda: screen, fps=1000.0, keepalive_seconds=3600.0, damage_factory=None)
    try:
        track.allow()
        first = await track.recv()
        assert first is not None and track.frames_sent == 1
        first_pts = first.pts  # the frame object is reused: keep the number
        assert first_pts is not None
        with pytest.raises(TimeoutError):  # polls keep grabbing, but nothing comes out
            await asyncio.wait_for(track.recv(), 0.2)
        assert screen.grabs > 1 and track.frames_sent == 1
        screen.pixels[0:4, 0:4, 1] = 255
        changed = await asyncio.wait_for(track.recv(), 30)
        assert changed.pts is not None and changed.pts > first_pts and track.frames_sent == 2
    finally:
        _stop(track)


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
