"""Finding a scroll: the screen's rows moved up or down together since the last grab.

Why: a scroll scaled down for the console (1080p -> 1520x854) moves the picture by a fraction
of a pixel, which x264's ``ultrafast`` search cannot follow: every frame of it is coded as changes
all over (~16 KB at 1080p, at the peak cap) and the whole screen is scaled and converted again.
When the rows of the new grab are rows of the last one moved by ``dy``, the canvas instead moves
its picture by the nearest whole (even) number of its own rows and converts only what is new
(:meth:`veo.agent.convert.YuvCanvas.update`): x264 then finds whole-row motion, and the frame is
mostly the newly shown strip (the bench's 1080p scroll: 4,200 -> 2,600 kbit/s,
``docs/performance.md``). This is what VNC's CopyRect and RDP's screen-to-screen blit do for a
scroll, inside a video stream.

How: the grab is cut into :data:`BANDS` columns (:func:`band_width`), and each row of each band
gets a signature (the sum of a sample of its pixels, as many a row on any screen). Pieces whose
signature is unique in their band of the last grab (a blank one's is not) vote for the shift
that brings them to where the same signature is now; the shift with the most votes, at least
:data:`MIN_VOTES`, is then checked piece by piece, every pixel (every other row where the
picture is made 2x smaller or more, :func:`matched_bands`): :attr:`Scroll.matched` says which
pieces of the new grab are the last grab's ``dy`` rows further down. Bands, not whole rows:
what scrolls is usually a window's page beside things that stay (a sidebar, the agent's own
session bar over the top of the screen, ~115 rows of the bench's screen), and rows through them
never match whole. Signatures only find the candidate; nothing is moved on a signature's word.
At 1080p: signature 0.17 ms, vote 0.1, check 0.5 (offline); at 4K, on a loaded host, 1.7-2.6,
0.3 and 2.7-3.8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

#: the number of bands across the screen (see module): 128 px each at 1920 px, 256 at 3840
BANDS = 15
#: a piece's signature sums every this-many-th pair of its pixels at 1920 px (1/16 of them), and
#: as many pixels a row on a wider screen
SAMPLE_STEP = 8
SAMPLE_WIDTH = 1920
#: pieces that must agree on one shift before it is checked: a scroll moves hundreds of rows, a
#: blinking cursor or a few repeated lines of text (a vote for some other shift) only a few
MIN_VOTES = 16
#: mixes a band's number into its signatures, so one sort finds the pieces unique in their band
_BAND_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, slots=True)
class Scroll:
    """The screen's rows moved by ``dy``: where ``matched[y, b]``, band ``b`` (columns
    ``b * band ..``) of row ``y`` of the new grab is that of row ``y + dy`` of the last one
    (``dy`` > 0: the content moved up, as when scrolling down a page)."""

    dy: int
    matched: npt.NDArray[np.bool_]
    band: int


def band_width(width: int) -> int:
    """The width of a band on a screen ``width`` pixels wide: :data:`BANDS` of them, each a
    multiple of 16 pixels (whole pairs of pixels, a whole number of samples)."""
    share = math.ceil(width / BANDS)
    return max(16, math.ceil(share / 16) * 16)


def _lanes(pixels: npt.NDArray[np.uint32]) -> tuple[npt.NDArray[np.unsignedinteger[Any]], int]:
    """``pixels`` two at a time (uint64) where the rows allow, and how many pixels one lane holds."""
    if pixels.shape[1] % 2 == 0 and pixels.strides[1] == 4 and pixels.strides[0] % 8 == 0:
        return pixels.view(np.uint64), 2
    return pixels, 1


def _band_starts(width: int, per_lane: int, band: int) -> npt.NDArray[np.intp]:
    """Where each band starts, in lanes."""
    return np.arange(0, -(-width // per_lane), band // per_lane)


def signatures(pixels: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint64]:
    """One number per row and band of ``pixels`` (BGRA as uint32): the sum of a sample of its
    pixels, as ``(rows, bands)``."""
    lanes, per_lane = _lanes(pixels)
    band = band_width(pixels.shape[1])
    step = max(1, SAMPLE_STEP * pixels.shape[1] // SAMPLE_WIDTH)
    sampled = lanes[:, ::step]
    starts = _band_starts(pixels.shape[1], per_lane, band) // step
    summed: npt.NDArray[np.uint64] = np.add.reduceat(sampled, starts, axis=1, dtype=np.uint64)
    return summed


def vote(before: npt.NDArray[np.uint64], after: npt.NDArray[np.uint64]) -> int | None:
    """The shift most rows agree on, whole rows first (0.07 ms at 1080p); where too few do (a
    sidebar or a bar beside the scroll in every row), the pieces of each band (1.2 ms). ``None``:
    no shift, or fewer than :data:`MIN_VOTES` agree."""
    whole = _vote(before.sum(axis=1, dtype=np.uint64), after.sum(axis=1, dtype=np.uint64), 1)
    if whole is not None or before.shape[1] == 1:
        return whole
    mix = np.arange(before.shape[1], dtype=np.uint64) * _BAND_MIX
    return _vote((before ^ mix).ravel(), (after ^ mix).ravel(), before.shape[1])


def _vote(keys_before: npt.NDArray[np.uint64], keys_after: npt.NDArray[np.uint64], bands: int) -> int | None:
    """:func:`vote` over flat keys, ``bands`` to a row."""
    height = keys_after.size // bands
    values, first, counts = np.unique(keys_before, return_index=True, return_counts=True)
    unique = counts == 1
    values, first = values[unique], first[unique]
    if values.size == 0:
        return None
    at = np.searchsorted(values, keys_after).clip(max=values.size - 1)
    hit = values[at] == keys_after
    shifts = first[at[hit]] // bands - np.flatnonzero(hit) // bands
    shifts = shifts[shifts != 0]
    if shifts.size < MIN_VOTES:
        return None
    tally = np.bincount(shifts + height)
    best = int(tally.argmax())
    return best - height if tally[best] >= MIN_VOTES else None


def matched_bands(
    previous: npt.NDArray[np.uint32], current: npt.NDArray[np.uint32], dy: int, every: int = 1
) -> npt.NDArray[np.bool_]:
    """Which bands of which rows ``y`` of ``current`` are, pixel for pixel, those of row ``y + dy``
    of ``previous``, as ``(rows, bands)``.

    ``every`` 2: only every other row is compared (half of the 66 MB a 4K pair reads),
    and a row between counts as moved where both its neighbours did. For a picture made at least
    2x smaller (each of its rows mixes two or more of these), so that what such a check can miss,
    a change confined to the rows between, is a line one screen pixel thin; the sharp pass once
    the screen rests shows it at the latest."""
    if every not in (1, 2):
        raise ValueError("rows are compared one by one or every other one")
    height, width = current.shape
    band = band_width(width)
    new_lanes, per_lane = _lanes(current)
    starts = _band_starts(width, per_lane, band)
    matched = np.zeros((height, starts.size), np.bool_)
    overlap = height - abs(dy)
    if overlap <= 0:
        return matched
    old_lanes, old_per_lane = _lanes(previous)
    if old_per_lane != per_lane:
        new_lanes, old_lanes, per_lane = current, previous, 1
        starts = _band_starts(width, 1, band)
    new, old = (new_lanes[:overlap], old_lanes[dy:]) if dy > 0 else (new_lanes[-dy:], old_lanes[:overlap])
    differ = np.not_equal(new[::every], old[::every])
    # most rows of a scroll moved whole: their bands need no look (a third of the time at 1080p)
    checked = np.ones((differ.shape[0], starts.size), np.bool_)
    rows = np.flatnonzero(differ.view(np.uint8).any(axis=1))
    if rows.size:
        checked[rows] = ~np.logical_or.reduceat(differ[rows], starts, axis=1)
    same = checked
    if every == 2:
        same = np.empty((overlap, starts.size), np.bool_)
        same[::2] = checked
        between = same[1::2]  # each between its two checked neighbours (the last: after its one)
        between[:] = checked[: between.shape[0]]
        between[: checked.shape[0] - 1] &= checked[1:]
    if dy > 0:
        matched[:overlap] = same
    else:
        matched[-dy:] = same
    return matched


class ScrollFinder:
    """Finds the scroll between two grabs; keeps the newer one's signatures for the next call
    (the stream's grabs follow one another: each signature is worked out once)."""

    def __init__(self) -> None:
        self._last: tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint64]] | None = None

    def find(
        self, previous: npt.NDArray[np.uint32], current: npt.NDArray[np.uint32], every: int = 1
    ) -> Scroll | None:
        """The scroll from ``previous`` to ``current`` (the same size), ``None`` when there is none;
        ``every``: its rows checked one by one or every other one (:func:`matched_bands`)."""
        if previous.shape != current.shape or previous.ndim != 2:
            return None
        last = self._last
        before = last[1] if last is not None and last[0] is previous else signatures(previous)
        after = signatures(current)
        self._last = (current, after)
        dy = vote(before, after)
        if dy is None:
            return None
        return Scroll(dy, matched_bands(previous, current, dy, every), band_width(current.shape[1]))
