"""ScreenVp8Encoder on screen-like pictures: what a typed character and an unchanged repeat cost,
and that flat colour settles on the screen's value (the mechanisms of ``docs/performance.md``,
"Firefox without OpenH264: VP8"; bytes and pixels only, nothing timed)."""

from __future__ import annotations

import fractions

import av
import numpy as np
import numpy.typing as npt
import pytest

from veo.agent import vp8 as vp8_module
from veo.agent.vp8 import ScreenVp8Encoder

WIDTH, HEIGHT = 640, 360
Planes = tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.uint8]]


def _desktop() -> Planes:
    """A grey desktop with an editor window full of glyph-like strokes (luma 30 on 235)."""
    rng = np.random.default_rng(7)
    y = np.full((HEIGHT, WIDTH), 90, np.uint8)
    u = np.full((HEIGHT // 2, WIDTH // 2), 128, np.uint8)
    v = np.full((HEIGHT // 2, WIDTH // 2), 128, np.uint8)
    y[40:300, 60:580] = 235
    for row in range(48, 290, 14):
        for column in range(66, 570, 8):
            if rng.random() < 0.8:
                glyph = rng.random((9, 6)) < 0.35
                y[row : row + 9, column : column + 6][glyph] = 30
    return y, u, v


def _frame(planes: Planes, index: int) -> av.VideoFrame:
    frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
    for plane, values in zip(frame.planes, planes, strict=True):
        plane.update(np.ascontiguousarray(values))
    frame.pts = index * 11_250  # 8 frames a second, the bench's typing
    frame.time_base = fractions.Fraction(1, 90_000)
    return frame


def _decoded(decoder: av.CodecContext, payloads: list[bytes]) -> Planes:
    """The picture a browser shows: the RTP payloads' VP8 frame (after RFC 7741's 4-byte descriptor
    with a 15-bit picture id; the first packet has it, the others a 4-byte one too) decoded."""
    data = b"".join(payload[4:] for payload in payloads)
    frames = decoder.decode(av.Packet(data))
    assert len(frames) == 1
    out = frames[0]
    shape = ((HEIGHT, WIDTH), (HEIGHT // 2, WIDTH // 2), (HEIGHT // 2, WIDTH // 2))
    return tuple(  # type: ignore[return-value]
        np.frombuffer(bytes(plane), np.uint8).reshape(-1, plane.line_size)[: size[0], : size[1]]
        for plane, size in zip(out.planes, shape, strict=True)
    )


def test_a_typed_character_and_an_unchanged_repeat_cost_little() -> None:
    """libvpx's encode breakout (static threshold) on: macroblocks equal to the last picture are
    repeated without a mode search. Off (0), every one of them was searched and coded again: a
    repeat of this page cost ~150 bytes (at 1080p typing ~1.2 KB, for ever) instead of ~45."""
    encoder = ScreenVp8Encoder()
    planes = _desktop()
    typed, repeats = [], []
    for index in range(24):
        y = planes[0].copy()
        if 0 < index < 16:  # one glyph and one block of the bench's timestamp pattern per frame
            y[300:310, 70 + index * 8 : 76 + index * 8] = 30
            y[340:352, 8 + (index % 8) * 14 : 20 + (index % 8) * 14] = 235 if index % 2 else 16
        planes = (y, planes[1], planes[2])
        payloads, _ = encoder.encode(_frame(planes, index), force_keyframe=index == 0)
        size = sum(len(payload) for payload in payloads)
        if 1 < index < 16:
            typed.append(size)
        elif index > 16:
            repeats.append(size)
    # medians: every ~10th inter frame refreshes libvpx's golden frame, which costs more
    assert sorted(repeats)[len(repeats) // 2] < 100, repeats
    assert sorted(typed)[len(typed) // 2] < 180, typed


def _text_page() -> Planes:
    """A page of anti-aliased text (glyph strokes with grey edges, as a screen draws them): the
    picture whose fine keyframe libvpx's early golden frames code again and again."""
    rng = np.random.default_rng(7)
    y = np.full((HEIGHT, WIDTH), 90, np.float32)
    y[20:340, 20:620] = 235
    for row in range(24, 330, 12):
        for column in range(26, 610, 7):
            if rng.random() < 0.85:
                y[row : row + 8, column : column + 5] -= (rng.random((8, 5)) < 0.4) * 205
    y = (y + np.roll(y, 1, 1) + np.roll(y, 1, 0)) / 3
    u = np.full((HEIGHT // 2, WIDTH // 2), 128, np.uint8)
    return np.clip(y, 16, 235).astype(np.uint8), u, u.copy()


def test_typing_on_a_page_of_text_has_no_costly_golden_frames() -> None:
    """The quantizer floor (:data:`~veo.agent.vp8.MIN_QUANTIZER`) is where libvpx puts every
    golden-frame refresh (each ~11th frame) of its first 150 inter frames; at 4 they re-coded the
    page at its finest quantizer: this sequence cost ~18.0 KB (1080p typing in the bench: 81
    kbit/s); at 7 (quantizer index 8, libvpx's own golden floor once it has history) ~13.6 KB."""
    encoder = ScreenVp8Encoder()
    planes = _text_page()
    sizes = []
    for index in range(48):  # 6 s at the bench's 8 frames a second: four golden refreshes
        y = planes[0].copy()
        if index:  # one character typed and one block of the timestamp pattern per frame
            y[330:338, 30 + index * 7 : 35 + index * 7] = 60
            y[345:357, 8 + (index % 8) * 14 : 20 + (index % 8) * 14] = 235 if index % 2 else 16
        planes = (y, planes[1], planes[2])
        payloads, _ = encoder.encode(_frame(planes, index), force_keyframe=index == 0)
        sizes.append(sum(len(payload) for payload in payloads))
    assert sum(sizes[1:]) < 16_000, sizes


def test_settings_reach_libvpx() -> None:
    encoder = ScreenVp8Encoder()
    codec = encoder._open(_frame(_desktop(), 0))
    asked = codec.options
    assert asked["static-thresh"] == str(vp8_module.STATIC_THRESHOLD) != "0"
    assert asked["cpu-used"] == str(vp8_module.CPU_USED)
    assert codec.qmin == vp8_module.MIN_QUANTIZER == 7


@pytest.mark.parametrize("colour", [(81, 91, 240), (63, 102, 94), (41, 240, 110), (150, 44, 21)])
def test_flat_colour_settles_after_a_busy_window_closes(colour: tuple[int, int, int]) -> None:
    """A flat block (Y, Cb, Cr) that first appears when a window of coloured noise (the costliest
    picture) closes over it: it and the repeats the track then sends show the block within 2 of
    the screen in every plane; the static threshold must not freeze a block that is still off."""
    rng = np.random.default_rng(3)
    y, u, v = _desktop()
    y[96:224, 96:224], u[48:112, 48:112], v[48:112, 48:112] = colour
    screen = (y, u, v)
    busy = tuple(plane.copy() for plane in screen)
    for plane, scale in zip(busy, (1, 2, 2), strict=True):
        top, bottom, left, right = 32 // scale, 320 // scale, 32 // scale, 600 // scale
        plane[top:bottom, left:right] = rng.integers(16, 236, (bottom - top, right - left), dtype=np.uint8)
    encoder = ScreenVp8Encoder()
    decoder = av.CodecContext.create("libvpx", "r")
    shown = None
    for index, picture in enumerate([_desktop(), busy, screen] + [screen] * 6):
        payloads, _ = encoder.encode(_frame(picture, index), force_keyframe=index == 0)  # type: ignore[arg-type]
        shown = _decoded(decoder, payloads)
    assert shown is not None
    for plane, want, (top, left, size) in zip(
        shown, colour, ((104, 104, 112), (52, 52, 56), (52, 52, 56)), strict=True
    ):
        inner = plane[top : top + size, left : left + size].astype(int)
        assert abs(inner.mean() - want) <= 2, (colour, inner.mean())
        assert np.abs(inner - want).max() <= 3, (colour, np.abs(inner - want).max())
