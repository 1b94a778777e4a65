"""How large the picture is encoded: the console's view size, and how often it may change.

A technician's video element is rarely wider than 1920 device pixels, yet the user's screen may
be 2560×1440 or 3840×2160. Encoding the full picture and letting the browser shrink it costs
the agent four times the encoder's work at 4K and the link four times the bits, for pixels
nobody sees. The console therefore says how large it shows the screen (``view``, see
:class:`veo.protocol.datachannel.View`); the agent scales the captured picture down to fit it
(aspect kept, even dimensions, never up) before conversion (:mod:`veo.agent.convert`), and
sends full resolution when the technician zooms to 1:1 (``zoom: full``) or before any ``view``
arrived (older consoles, the browser share).

Coordinates never change: the console keeps mapping its video element to the *captured*
screen's pixels announced in ``screen``, whatever the encoded size.

Where it costs little, the size is nudged down to one whose patch windows fall on, or within
1/32 px of, source pixel edges (:func:`grid_size`): only then can a change be converted as a
patch that matches a whole-frame conversion, within a proven bound (:mod:`veo.agent.convert`);
at any other size every change converts the whole frame (17-20 ms CPU at 4K instead of ~0.5 ms
for a typed character). Every view of a 4K, 1440p, 1080p or 3440x1440 screen has such a size
at most 2.75 % narrower (0.2 % on average), its aspect within 1 %.

Each size change re-opens the encoder with a keyframe, so :class:`ViewSizer` ignores changes of
less than :data:`MIN_CHANGE` in both dimensions (a window being dragged to a new size) and
applies at most one every :data:`MIN_INTERVAL` seconds; a change that comes sooner is held and
applied when its turn comes, so the last size asked for always wins.
"""

from __future__ import annotations

import functools
import math

from veo.agent.capture.base import Size
from veo.agent.convert import COLUMN_STEP, MAX_PHASE, max_phase
from veo.protocol.datachannel import View

#: a new size closer than this to the current one in both dimensions is not worth a keyframe
MIN_CHANGE = 0.05
#: at most one size change per this many seconds (about two a second)
MIN_INTERVAL = 0.5
#: :func:`grid_size` may make the picture this much narrower than the view allows...
GRID_SHRINK = 0.03
#: ...and its aspect this far from the screen's (the console's monitor-switch guard allows 2 %)
GRID_ASPECT = 0.01


def fit_size(source: Size, view: View | None) -> Size:
    """The encoded size of a ``source`` picture (even dimensions) shown in ``view``: :func:`fitted`,
    nudged onto the grid of patches when that costs little (:func:`grid_size`)."""
    size = fitted(source, view)
    return size if size == source else grid_size(source, size) or size


def fitted(source: Size, view: View | None) -> Size:
    """``None`` (no view yet) and ``zoom: full`` give the source; otherwise the largest even size
    with the source's aspect that fits inside the view, never larger than the source."""
    if view is None or view.zoom == "full":
        return source
    scale = min(view.width / source.width, view.height / source.height)
    if scale >= 1.0:
        return source
    # even, at least 2; rounded down so the picture fits inside the view
    width = min(max(2, math.floor(source.width * scale) & ~1), source.width)
    height = min(max(2, math.floor(source.height * scale) & ~1), source.height)
    return Size(width, height)


def on_grid(source: int, encoded: int, step: int = 1) -> bool:
    """Whether an axis of ``source`` pixels scaled to ``encoded`` can be patched: every cell
    window of :class:`~veo.agent.convert.YuvCanvas` falls within
    :data:`~veo.agent.convert.MAX_PHASE` of a source pixel edge."""
    return _max_phase(encoded, source, step) <= MAX_PHASE


@functools.lru_cache(maxsize=4096)
def _max_phase(encoded: int, source: int, step: int) -> float:
    return max_phase(encoded, source, step)


def grid_size(source: Size, fitted: Size) -> Size | None:
    """The largest size within :data:`GRID_SHRINK` under ``fitted`` (width first, then the height
    nearest the screen's aspect, within :data:`GRID_ASPECT`) on which scaled patches are possible
    (:func:`on_grid`); ``None`` when there is none."""
    lowest = math.ceil(fitted.width * (1 - GRID_SHRINK))
    for width in range(fitted.width, lowest - 1, -2):
        if not on_grid(source.width, width, COLUMN_STEP):
            continue
        ideal = source.height * width / source.width
        top = min(fitted.height, math.floor(ideal * (1 + GRID_ASPECT)))
        heights = [
            h
            for h in range(top - top % 2, math.ceil(ideal * (1 - GRID_ASPECT)) - 1, -2)
            if h > 0 and on_grid(source.height, h)
        ]
        if heights:
            return Size(width, min(heights, key=lambda h: abs(h - ideal)))
    return None


def small_change(current: Size, wanted: Size) -> bool:
    """Whether ``wanted`` differs from ``current`` by less than :data:`MIN_CHANGE` in each dimension."""
    return (
        abs(wanted.width - current.width) < MIN_CHANGE * current.width
        and abs(wanted.height - current.height) < MIN_CHANGE * current.height
    )


class ViewSizer:
    """The encoded size of one source picture, following the console's views at a bounded rate.

    Used from the capture thread only (the stream's :class:`~veo.agent.stream.FrameSource`).
    """

    def __init__(self, source: Size, view: View | None = None) -> None:
        self.view = view
        self.source = source
        #: the size being encoded now
        self.size = fit_size(source, view)
        self._wanted: Size | None = None
        self._changed_at = -math.inf

    def new_source(self, source: Size) -> Size:
        """The capture now shows ``source`` (another monitor): its size at the current view, at once
        (the switch itself re-opens the encoder)."""
        self.source = source
        self.size = fit_size(source, self.view)
        self._wanted = None
        return self.size

    def want(self, view: View, now: float) -> None:
        """The console shows the screen at ``view`` from now on (applied by :meth:`due`)."""
        self.view = view
        wanted = fit_size(self.source, view)
        if wanted == self.size or small_change(self.size, wanted):
            self._wanted = None  # also drops a held change the console went back from
        else:
            self._wanted = wanted

    @property
    def pending_at(self) -> float | None:
        """When the held size change may be applied (monotonic seconds), ``None`` when none is held."""
        return None if self._wanted is None else self._changed_at + MIN_INTERVAL

    def due(self, now: float) -> Size | None:
        """The new size when a held change may be applied at ``now`` (it then becomes :attr:`size`)."""
        at = self.pending_at
        if at is None or now < at or self._wanted is None:
            return None
        self.size, self._wanted = self._wanted, None
        self._changed_at = now
        return self.size
