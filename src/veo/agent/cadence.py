"""The drawing's own rhythm: grab right after a draw, not just before the next one.

While the screen changes continuously (a window dragged, a video, a scroll) the pacer holds the
stream to ~30 frames a second, and a program draws at its own rate, typically 60 a second. A
grab at the start of each pacer slot then shows a picture drawn anywhere from 0 to one draw
period earlier: on average half a period (~8 ms at 60 Hz) older than it could be, on every frame,
which the technician sees as latency (the bench's ``draw_wake`` and ``wake_grab`` stages: the
grabbed drawing was made ~7 ms before the grab). VNC servers that poll do no better; a stream
that knows when drawing happens can.

:class:`DrawCadence` keeps the times the screen was drawn (the damage watcher's notices) and,
when the pacer's slot opens, says how long to wait for the next draw: only when the draws come
at a steady period (the median of the recent intervals, with the middle half of them within
:data:`STEADY_SPREAD` of it) and the last one is more than :data:`FRESH_SHARE` of a period old,
and never longer than the period says the next one is due (plus :data:`MARGIN_SECONDS`). A
single change, a typed letter, irregular drawing or drawing that stopped is grabbed at once, as
before. The grab then shows a drawing ~1 ms old, and the frames still come at the pacer's rate
(every second draw of a 60-Hz program; each one of a 30-Hz program).
"""

from __future__ import annotations

import statistics
from collections import deque

#: how many recent intervals between draws the period is taken from
KEPT_INTERVALS = 8
#: the fewest intervals a period is believed from
MIN_INTERVALS = 4
#: notices closer than this are one drawing (a program's several requests for one picture)
SAME_DRAW_SECONDS = 0.002
#: draws slower than this are not a rhythm worth waiting for (the pacer's slot comes sooner)
MAX_PERIOD_SECONDS = 1 / 20
#: the middle half of the intervals within this share of the median: a steady rhythm
STEADY_SPREAD = 0.25
#: a drawing younger than this share of the period is fresh enough: grab now
FRESH_SHARE = 0.25
#: waited past the next draw's due time (its notice's own delay, the event loop's wake-up)
MARGIN_SECONDS = 0.002


class DrawCadence:
    """When the screen was drawn, and whether a grab should wait for the next drawing."""

    def __init__(self) -> None:
        self._intervals: deque[float] = deque(maxlen=KEPT_INTERVALS)
        self._last: float | None = None

    def drawn(self, now: float) -> None:
        """Something was drawn at ``now`` (monotonic seconds)."""
        if self._last is not None:
            gap = now - self._last
            if gap < SAME_DRAW_SECONDS:
                return  # the same drawing
            if gap > MAX_PERIOD_SECONDS * 2:
                self._intervals.clear()  # a pause: the rhythm starts again
            else:
                self._intervals.append(gap)
        self._last = now

    def period(self) -> float | None:
        """The steady period of the recent draws (seconds), or ``None`` when there is none."""
        if len(self._intervals) < MIN_INTERVALS:
            return None
        ordered = sorted(self._intervals)
        middle = statistics.median(ordered)
        quarter = len(ordered) // 4
        low, high = ordered[quarter], ordered[-1 - quarter]
        if middle > MAX_PERIOD_SECONDS or high - low > STEADY_SPREAD * middle:
            return None
        return middle

    def wait(self, now: float) -> float:
        """How long a grab at ``now`` should wait for the next drawing (0: grab now)."""
        period = self.period()
        if period is None or self._last is None:
            return 0.0
        age = now - self._last
        if age < FRESH_SHARE * period or age > period + MARGIN_SECONDS:
            return 0.0  # fresh enough; or the next draw is late: the drawing may have stopped
        return period - age + MARGIN_SECONDS
