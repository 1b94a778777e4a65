"""Scaled streams: the track notes on each frame whether it is the screen scaled down, and x264 is
opened for it with sub-pixel motion search (a whole-pixel scroll of the screen is a fractional
shift of the scaled picture); unscaled streams keep ``ultrafast``'s whole-pixel search. The
settings are read back from x264's own settings SEI, not from ours."""

from __future__ import annotations

import fractions
from typing import Any

import av
import numpy as np
import pytest

from veo.agent import low_latency
from veo.agent.capture.base import Region, ScreenCapture, Size
from veo.agent.convert import YuvCanvas
from veo.agent.damage import Rect
from veo.agent.frame_note import PLAIN, FrameNote, note_of
from veo.agent.low_latency import ScreenH264Encoder
from veo.agent.stream import ScreenTrack
from veo.protocol.datachannel import View


def _frame(note: FrameNote | None, pts: int = 0, width: int = 320, height: int = 240) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    frame.pts, frame.time_base = pts, fractions.Fraction(1, 90_000)
    frame.opaque = note
    return frame


def _settings(payloads: list[bytes]) -> bytes:
    data = b"".join(payloads)
    assert b"x264 - core" in data, "a keyframe carries x264's settings SEI"
    return data


@pytest.mark.parametrize(
    ("note", "subme"), [(None, 0), (FrameNote(), 0), (FrameNote(scaled=True), low_latency.SCALED_SUBPEL)]
)
def test_scaled_pictures_get_sub_pixel_motion_search_unscaled_keep_ultrafasts(
    note: FrameNote | None, subme: int
) -> None:
    payloads, _ = ScreenH264Encoder().encode(_frame(note), force_keyframe=True)
    settings = _settings(payloads)
    assert f" subme={subme} ".encode() in settings
    assert b" ref=1 " in settings  # a second reference saved 0-1 % of a scaled scroll: not used
    assert b"me=dia" in settings and b"bframes=0" in settings  # ultrafast + zerolatency otherwise
    assert low_latency.SCALED_SUBPEL >= 1  # 0 would be ultrafast's whole pixels


@pytest.mark.parametrize(
    ("size", "scaled", "peak_kbit"),
    [
        ((1520, 854), True, round(low_latency.PEAK_BITRATE * 1520 * 854 / (1920 * 1080)) // 1000),
        ((1520, 854), False, low_latency.PEAK_BITRATE // 1000),  # a 1520x854 screen, unscaled
        ((2560, 1440), True, low_latency.PEAK_BITRATE // 1000),  # never above the 1080p cap
    ],
)
def test_a_scaled_pictures_peak_cap_is_in_proportion_to_its_pixels(
    size: tuple[int, int], scaled: bool, peak_kbit: int
) -> None:
    """Scaled full-screen scroll frames sit at the cap: it sets their bytes (~25 KB a frame at
    1080p's cap, ~16 KB at 1520x854's)."""
    payloads, _ = ScreenH264Encoder().encode(_frame(FrameNote(scaled=scaled), 0, *size), force_keyframe=True)
    settings = _settings(payloads)
    assert f"vbv_maxrate={peak_kbit} ".encode() in settings
    assert f"vbv_bufsize={low_latency.PEAK_BUFFER_BITS // 1000} ".encode() in settings
    if scaled and size == (1520, 854):
        assert peak_kbit < 0.65 * low_latency.PEAK_BITRATE / 1000


def test_x264_is_opened_again_with_a_keyframe_when_the_stream_turns_scaled_or_back() -> None:
    """Same size, another kind of picture: sub-pixel search and the chroma location change with
    it, which x264 only takes when it opens."""
    encoder = ScreenH264Encoder()
    notes = [PLAIN, PLAIN, FrameNote(scaled=True), FrameNote(scaled=True), PLAIN]
    keyframes = []
    for index, note in enumerate(notes):
        payloads, _ = encoder.encode(_frame(note, index * 3000))
        keyframes.append(b"x264 - core" in b"".join(payloads))
    assert keyframes == [True, False, True, False, True]


def _page(width: int, height: int, offset: int) -> np.ndarray:
    """Text-like lines (words of 16 made-up 5x9 glyphs, dark on white, every 22 px, over the left
    third), scrolled up ``offset`` px: each frame well under x264's peak cap, whose bytes then
    follow what the motion search found."""
    rng = np.random.default_rng(5)
    glyphs = rng.random((16, 9, 5)) < 0.4
    lines = (height + offset) // 22 + 2
    page = np.full((lines * 22, width), 255, np.uint32)
    for row in range(lines):
        x = width // 8
        while x < width * 0.3:
            for glyph in rng.integers(0, 16, rng.integers(2, 8)):
                page[row * 22 + 6 : row * 22 + 15, x : x + 5][glyphs[glyph]] = 0
                x += 7
            x += 6
    grey = page[offset : offset + height]
    return np.ascontiguousarray(0xFF000000 | grey << 16 | grey << 8 | grey)


class _UncappedEncoder(ScreenH264Encoder):  # type: ignore[misc]
    """The agent's encoder with the 1080p peak cap whatever the picture: compares the motion
    search alone (a small scaled picture's own cap would hold both variants' frames)."""

    def _open(self, frame: av.VideoFrame, scaled: bool = False) -> Any:
        codec = super()._open(frame, scaled)
        codec.options = {**codec.options, "maxrate": str(low_latency.PEAK_BITRATE)}
        return codec


@pytest.mark.usefixtures("swscale_only")  # the sharp pass's frames: the motion search is the subject
def test_a_scaled_scroll_costs_fewer_bytes_with_sub_pixel_search() -> None:
    """A 6-px scroll of 960x540 shown at 760x428 (a shift of 4.75 px): the same frames encoded
    with the scaled options and with the unscaled ones (measured: ~34 % fewer bytes)."""
    source, size = Size(960, 540), Size(760, 428)
    canvas = YuvCanvas(size, source)
    scaled, plain = _UncappedEncoder(), _UncappedEncoder()
    totals = {True: 0, False: 0}
    for index in range(8):
        canvas.update(
            _page(source.width, source.height, 6 * index), [Rect(0, 0, source.width, source.height)]
        )
        frame = canvas.frame
        frame.pts, frame.time_base = index * 3000, fractions.Fraction(1, 90_000)
        for is_scaled, encoder in ((True, scaled), (False, plain)):
            frame.opaque = FrameNote(scaled=is_scaled)
            payloads, _ = encoder.encode(frame, force_keyframe=index == 0)
            if index:
                totals[is_scaled] += sum(len(p) for p in payloads)
    assert totals[True] < 0.8 * totals[False], totals


class _Screen(ScreenCapture):
    def __init__(self, size: Size) -> None:
        self.pixels = np.full((size.height, size.width, 4), 255, np.uint8)

    def size(self) -> Size:
        return Size(self.pixels.shape[1], self.pixels.shape[0])

    def set_region(self, region: Region | None) -> Size:
        return self.size()

    def grab(self) -> bytes:
        return self.pixels.tobytes()

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("view", "scaled"), [(None, False), (View(width=640, height=400), True)])
async def test_the_track_notes_whether_its_frames_are_scaled(view: View | None, scaled: bool) -> None:
    screen = _Screen(Size(1280, 720))
    track = ScreenTrack(lambda: screen, damage_factory=None)
    try:
        if view is not None:
            await track.set_view(view)
        track.allow()
        frame = await track.recv()
        assert (frame.width, frame.height) == ((640, 360) if scaled else (1280, 720))
        note = note_of(frame)
        assert note.scaled is scaled and note.budget is track.budget
    finally:
        track.stop()
        track._executor.shutdown(wait=True)
