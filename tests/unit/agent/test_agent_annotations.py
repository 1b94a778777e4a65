"""agent/annotations.py: console strokes reach the overlay only as the grant allows, in desktop pixels."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest

from veo.agent.annotations import SessionAnnotations
from veo.agent.capture.base import Region
from veo.agent.overlay.base import Overlay, OverlayError
from veo.agent.overlay.geometry import Point
from veo.agent.session import AgentSession, SessionDeps


class RecordingOverlay(Overlay):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def stroke(
        self, stroke_id: str, tool: str, points: Sequence[Point], color: str, width: int, done: bool
    ) -> None:
        self.calls.append(("stroke", stroke_id, tool, list(points), color, width, done))

    def erase(self, stroke_id: str) -> None:
        self.calls.append(("erase", stroke_id))

    def pointer(self, x: int, y: int, visible: bool, label: str = "") -> None:
        self.calls.append(("pointer", x, y, visible, label))

    def keep_clear(self, window_ids: Sequence[int]) -> None:
        self.calls.append(("keep_clear", list(window_ids)))

    def close(self) -> None:
        self.calls.append(("close",))


class Unused:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the session must not use the {name} of its channel here")


def make_session(
    region: Region | None = None,
) -> tuple[AgentSession, SessionAnnotations, list[RecordingOverlay]]:
    def no_backend() -> Any:
        raise AssertionError("no capture or input in this test")

    deps = SessionDeps(capture_factory=no_backend, injector_factory=no_backend, post=lambda _e: None)
    session = AgentSession(Unused(), "123456789", deps)  # type: ignore[arg-type]
    made: list[RecordingOverlay] = []

    def factory() -> Overlay:
        made.append(RecordingOverlay())
        return made[-1]

    return session, SessionAnnotations(session, factory, lambda: region, lambda: "Ana"), made


def send(session: AgentSession, message: dict[str, Any]) -> None:
    session._on_data_message(json.dumps({"v": 1, **message}))


STROKE = {"type": "annotate", "id": "s1", "tool": "arrow", "points": [[10, 20], [30, 40]], "done": True}


async def test_nothing_reaches_the_overlay_before_consent_or_without_view(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="veo")
    session, _annotations, made = make_session()
    send(session, STROKE)
    send(session, {"type": "tech_pointer", "x": 5, "y": 5})
    session.policy.grant(["clipboard"], ["clipboard"])  # allowed something, but not the view
    send(session, STROKE)
    assert made == []  # not even opened
    assert "dropped type=annotate reason=not_consented" in caplog.text
    assert "dropped type=annotate reason=view_not_granted" in caplog.text
    assert "dropped type=tech_pointer reason=not_consented" in caplog.text


async def test_view_only_is_enough_and_points_become_desktop_pixels_clamped_to_the_region() -> None:
    session, annotations, made = make_session(Region(1920, 100, 1280, 1024))
    session.policy.grant(["view", "control"], ["view"])  # control not granted: annotation still works
    send(session, STROKE)
    send(session, {**STROKE, "id": "far", "points": [[5000, 3000]], "color": "#00ff00", "width": 9})
    send(session, {"type": "tech_pointer", "x": 7, "y": 8})
    send(session, {"type": "annotate_erase", "id": "s1"})
    send(session, {"type": "annotate_erase"})
    annotations.close()
    send(session, STROKE)  # after the end nothing opens it again
    assert len(made) == 1
    assert made[0].calls == [
        ("stroke", "s1", "arrow", [(1930, 120), (1950, 140)], "#ff0040", 4, True),
        ("stroke", "far", "arrow", [(1920 + 1279, 100 + 1023)], "#00ff00", 9, True),
        ("pointer", 1927, 108, True, "Ana"),
        ("erase", "s1"),
        ("erase", ""),
        ("close",),
    ]


async def test_malformed_strokes_are_dropped_as_invalid(caplog: pytest.LogCaptureFixture) -> None:
    session, _annotations, made = make_session()
    session.policy.grant(["view"], ["view"])
    send(session, {**STROKE, "points": [[1, 2]] * 2001})
    send(session, {**STROKE, "tool": "spray"})
    send(session, {**STROKE, "color": "red"})
    send(session, {**STROKE, "id": "../../x"})
    assert made == []
    assert caplog.text.count("dropped type=annotate reason=invalid") == 4


async def test_no_overlay_here_means_no_annotations_but_the_session_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deps = SessionDeps(capture_factory=lambda: None, injector_factory=lambda: None, post=lambda _e: None)  # type: ignore[arg-type,return-value]
    session = AgentSession(Unused(), "123456789", deps)  # type: ignore[arg-type]
    attempts: list[int] = []

    def broken() -> Overlay:
        attempts.append(1)
        raise OverlayError("no display")

    SessionAnnotations(session, broken)
    session.policy.grant(["view"], ["view"])
    send(session, STROKE)
    send(session, STROKE)
    assert attempts == [1]  # tried once, not on every message
    assert "annotations cannot be shown on this desktop: no display" in caplog.text


async def test_the_bar_is_kept_clear_whether_it_comes_before_or_after_the_overlay() -> None:
    session, annotations, made = make_session()
    session.policy.grant(["view"], ["view"])
    annotations.keep_clear(0x400001)  # the bar shows before the first stroke
    send(session, STROKE)
    annotations.keep_clear(0x400099)  # another window later
    assert made[0].calls[0] == ("keep_clear", [0x400001])
    assert made[0].calls[2] == ("keep_clear", [0x400001, 0x400099])


async def test_strokes_of_another_monitor_are_erased_when_the_shown_region_changes() -> None:
    region: list[Region | None] = [None]

    def deps_free() -> Any:
        raise AssertionError("no capture or input in this test")

    deps = SessionDeps(capture_factory=deps_free, injector_factory=deps_free, post=lambda _e: None)
    session = AgentSession(Unused(), "123456789", deps)  # type: ignore[arg-type]
    overlay = RecordingOverlay()
    SessionAnnotations(session, lambda: overlay, lambda: region[0])
    session.policy.grant(["view"], ["view"])
    send(session, STROKE)
    send(session, {**STROKE, "id": "s2"})
    region[0] = Region(1920, 0, 1280, 1024)
    send(session, {**STROKE, "id": "s3"})
    kinds = [(c[0], c[1]) for c in overlay.calls]
    assert kinds == [("stroke", "s1"), ("stroke", "s2"), ("erase", ""), ("stroke", "s3")]


async def test_the_choosers_no_overlay_also_lets_the_session_go_on(caplog: pytest.LogCaptureFixture) -> None:
    from veo.agent.backend import BackendError

    deps = SessionDeps(capture_factory=lambda: None, injector_factory=lambda: None, post=lambda _e: None)  # type: ignore[arg-type,return-value]
    session = AgentSession(Unused(), "123456789", deps)  # type: ignore[arg-type]

    def none_here() -> Overlay:
        raise BackendError("no_overlay", "portal: no XWayland display")

    SessionAnnotations(session, none_here)
    session.policy.grant(["view"], ["view"])
    send(session, STROKE)
    assert "cannot be shown on this desktop: no_overlay: portal: no XWayland display" in caplog.text
