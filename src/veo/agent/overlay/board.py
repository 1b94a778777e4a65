"""What the overlay should show at a given moment: the live strokes, their fade, the pointer.

Kept apart from X11 (and from any clock: every method takes ``now``) so the schedule can be
tested with an injected clock. The timings match the console's ``annotation-draw.js``: a finished
stroke stays ``HOLD`` seconds, then fades in ``FADE_STEPS`` thinning steps over ``FADE`` seconds
and is removed; a laser stroke goes much sooner. Without a compositor the overlay cannot dim a
window, so "fading" thins the line step by step.

Bounds: at most ``MAX_STROKES`` strokes live at once (the oldest goes first), points are already
bounded by the protocol, and a stroke whose ``done`` never comes is treated as finished
``STALE`` seconds after its last update, so nothing can stay on the user's screen for ever.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from veo.agent.overlay.geometry import Point

HOLD = 4.0
FADE = 1.0
LASER_HOLD = 0.25
LASER_FADE = 0.75
FADE_STEPS = 3
STALE = 10.0
MAX_STROKES = 64
#: the technician's pointer hides this long after its last move
POINTER_IDLE = 2.0


@dataclass
class Stroke:
    id: str
    tool: str
    points: tuple[Point, ...]
    color: str
    width: int
    updated_at: float
    done_at: float | None = None
    version: int = 0

    def schedule(self) -> tuple[float, float]:
        """(when the fade starts, how long it lasts)."""
        laser = self.tool == "laser"
        hold, fade = (LASER_HOLD, LASER_FADE) if laser else (HOLD, FADE)
        since = self.done_at if self.done_at is not None else self.updated_at + STALE
        return since + hold, fade

    def step(self, now: float) -> int:
        """0 at full width, 1..FADE_STEPS while fading, FADE_STEPS + 1 once gone."""
        start, fade = self.schedule()
        if now < start:
            return 0
        return min(FADE_STEPS + 1, 1 + int((now - start) / fade * FADE_STEPS))

    def width_at(self, now: float) -> int:
        """The pen width shown at ``now`` (0 = gone)."""
        step = self.step(now)
        if step > FADE_STEPS:
            return 0
        return max(1, round(self.width * (FADE_STEPS + 1 - step) / (FADE_STEPS + 1)))

    def next_change(self, now: float) -> float:
        start, fade = self.schedule()
        if now < start:
            return start
        return start + fade * min(FADE_STEPS, self.step(now)) / FADE_STEPS


@dataclass(frozen=True)
class Look:
    """One stroke as it should appear now; the backend redraws when this changes."""

    id: str
    tool: str
    points: tuple[Point, ...]
    color: str
    width: int
    version: int


@dataclass
class PointerState:
    x: int = 0
    y: int = 0
    visible: bool = False
    moved_at: float = 0.0

    def shown(self, now: float) -> bool:
        return self.visible and now - self.moved_at < POINTER_IDLE


@dataclass
class StrokeBoard:
    strokes: OrderedDict[str, Stroke] = field(default_factory=OrderedDict)
    pointer: PointerState = field(default_factory=PointerState)

    def annotate(
        self,
        stroke_id: str,
        tool: str,
        points: Sequence[Point],
        color: str,
        width: int,
        done: bool,
        now: float,
    ) -> bool:
        """Add or grow a stroke; ``False`` when it was already finished (a late duplicate)."""
        old = self.strokes.get(stroke_id)
        if old is not None and old.done_at is not None:
            return False
        version = old.version + 1 if old is not None else 0
        self.strokes.pop(stroke_id, None)
        self.strokes[stroke_id] = Stroke(
            stroke_id, tool, tuple(points), color, width, now, now if done else None, version
        )
        while len(self.strokes) > MAX_STROKES:
            self.strokes.popitem(last=False)
        return True

    def erase(self, stroke_id: str) -> list[str]:
        """Remove one stroke, or all for ``""``; the ids removed."""
        if stroke_id == "":
            gone = list(self.strokes)
            self.strokes.clear()
            return gone
        return [stroke_id] if self.strokes.pop(stroke_id, None) is not None else []

    def move_pointer(self, x: int, y: int, visible: bool, now: float) -> None:
        self.pointer = PointerState(x, y, visible, now)

    def looks(self, now: float) -> dict[str, Look]:
        """The strokes to show at ``now``; faded ones are dropped from the board."""
        shown = {}
        for stroke in list(self.strokes.values()):
            width = stroke.width_at(now)
            if width == 0:
                del self.strokes[stroke.id]
                continue
            shown[stroke.id] = Look(
                stroke.id, stroke.tool, stroke.points, stroke.color, width, stroke.version
            )
        return shown

    def next_change(self, now: float) -> float | None:
        """When :meth:`looks` or the pointer will next change by itself (None: nothing pending)."""
        times = [s.next_change(now) for s in self.strokes.values()]
        if self.pointer.shown(now):
            times.append(self.pointer.moved_at + POINTER_IDLE)
        return min(times) if times else None
