"""Monitors: listing rules, region math, the origin added to input, the switch glue, the track."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
import pytest

from veo.agent.capture.base import CaptureError, Region, ScreenCapture, Size
from veo.agent.capture.monitors import Layout, Monitor, RawMonitor, build_layout, parse_mss, parse_randr
from veo.agent.input_worker import on_desktop
from veo.agent.monitors import MonitorSwitch
from veo.agent.stream import ScreenTrack
from veo.protocol.datachannel import (
    AgentDataMessage,
    Dropped,
    Key,
    PointerButton,
    PointerMove,
    Screen,
    View,
    Wheel,
)
from veo.protocol.monitors import Monitors, SelectMonitor

DESKTOP = Region(0, 0, 3840, 1080)
LEFT = Region(0, 0, 1920, 1080)
RIGHT = Region(1920, 0, 1920, 1080)
TWO = [RawMonitor("M1", 0, 0, 1920, 1080), RawMonitor("M2", 1920, 0, 1920, 1080)]


# ---------------------------------------------------------------- listing


def test_monitors_are_numbered_left_to_right_and_clipped_to_the_desktop() -> None:
    layout = build_layout(
        DESKTOP,
        [
            RawMonitor("DP-2", 1920, 0, 2000, 1200, primary=True),  # sticks out: clipped
            RawMonitor("DP-1", 0, 0, 1920, 1080),
            RawMonitor("mirror", 0, 0, 1920, 1080),  # same rectangle as DP-1: one entry
            RawMonitor("ghost", 5000, 0, 800, 600),  # outside the desktop: cannot be captured
        ],
    )
    assert layout.monitors == (
        Monitor("1", "DP-1", LEFT),
        Monitor("2", "DP-2", RIGHT, primary=True),
    )
    assert layout.find("2") == layout.monitors[1]
    assert layout.find("3") is None


def test_randr_replies_are_parsed_and_a_lost_atom_only_costs_the_name() -> None:
    replies = [
        {"name": 241, "primary": 0, "x": 1920, "y": 0, "width_in_pixels": 1920, "height_in_pixels": 1080},
        {"name": 240, "primary": 1, "x": 0, "y": 0, "width_in_pixels": 1920, "height_in_pixels": 1080},
    ]

    def atom_name(atom: int) -> str:
        if atom == 241:
            raise RuntimeError("BadAtom")
        return "M1"

    layout = parse_randr(DESKTOP, replies, atom_name)
    assert layout.monitors == (Monitor("1", "M1", LEFT, primary=True), Monitor("2", "", RIGHT))


def test_mss_list_gives_the_desktop_and_the_monitors() -> None:
    layout = parse_mss(
        [
            {"left": 0, "top": 0, "width": 3840, "height": 1080},
            {"left": 0, "top": 0, "width": 1920, "height": 1080, "is_primary": False, "output": "screen"},
            {"left": 1920, "top": 0, "width": 1920, "height": 1080},
        ]
    )
    assert layout.desktop == DESKTOP
    assert [(m.id, m.name, m.region) for m in layout.monitors] == [("1", "screen", LEFT), ("2", "", RIGHT)]
    with pytest.raises(CaptureError):
        parse_mss([])


# ---------------------------------------------------------------- region math and input


def test_region_clip_and_clamp() -> None:
    assert Region(1900, -10, 100, 100).clip(RIGHT) == Region(1920, 0, 80, 90)
    assert Region(0, 0, 10, 10).clip(RIGHT) is None
    assert RIGHT.to_desktop(0, 0) == (1920, 0)
    assert RIGHT.to_desktop(1919, 1079) == (3839, 1079)
    # whatever the console sends, the point stays on the monitor shown
    assert RIGHT.to_desktop(5000, 5000) == (3839, 1079)
    assert RIGHT.to_desktop(-3, -3) == (1920, 0)


def test_input_gets_the_region_origin_and_stays_inside_it() -> None:
    move = on_desktop(PointerMove(x=10, y=20), RIGHT)
    assert isinstance(move, PointerMove) and (move.x, move.y) == (1930, 20)
    button = on_desktop(PointerButton(x=30000, y=5, button="left", down=True), RIGHT)
    assert isinstance(button, PointerButton) and (button.x, button.y, button.down) == (3839, 5, True)
    wheel = on_desktop(Wheel(x=1, y=1, dy=2), RIGHT)
    assert isinstance(wheel, Wheel) and (wheel.x, wheel.y, wheel.dy) == (1921, 1, 2)
    key = Key(key="a", code="KeyA", down=True)
    assert on_desktop(key, RIGHT) is key
    whole = PointerMove(x=3000, y=20)
    assert on_desktop(whole, None) is whole


# ---------------------------------------------------------------- the switch


class FakeLister:
    def __init__(self, layout: Layout) -> None:
        self.current = layout
        self.closed = False

    def layout(self) -> Layout:
        return self.current

    def close(self) -> None:
        self.closed = True


class FakeTrack:
    def __init__(self) -> None:
        self.regions: list[Region | None] = []

    async def set_region(self, region: Region | None) -> Size:
        self.regions.append(region)
        return region.size if region is not None else DESKTOP.size


class FakeInput:
    def __init__(self) -> None:
        self.region: Region | None = None

    def set_region(self, region: Region | None) -> None:
        self.region = region


def _switch(layout: Layout) -> tuple[MonitorSwitch, list[AgentDataMessage], FakeTrack, FakeInput, FakeLister]:
    sent: list[AgentDataMessage] = []
    track, input_path, lister = FakeTrack(), FakeInput(), FakeLister(layout)
    switch = MonitorSwitch(
        send=sent.append,
        track=lambda: track,
        input_path=input_path,
        may_show=lambda: True,
        lister=lambda: lister,  # type: ignore[arg-type,return-value]
        poll_seconds=0.01,
    )
    return switch, sent, track, input_path, lister


async def _settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0.01)


async def test_selecting_a_monitor_moves_video_and_input_and_back() -> None:
    layout = build_layout(
        DESKTOP, [RawMonitor("M1", 0, 0, 1920, 1080), RawMonitor("M2", 1920, 0, 1920, 1080)]
    )
    switch, sent, track, input_path, lister = _switch(layout)
    assert switch.screen(Size(3840, 1080)) == Screen(width=3840, height=1080)
    switch.start()
    await _settle()
    listed = [m for m in sent if isinstance(m, Monitors)]
    assert len(listed) == 1 and [m.id for m in listed[0].monitors] == ["1", "2"]
    assert listed[0].current == "all"

    sent.clear()
    switch.select(SelectMonitor(monitor="2"))
    await _settle()
    assert track.regions == [RIGHT]
    assert input_path.region == RIGHT and switch.region == RIGHT
    assert Screen(x=1920, y=0, width=1920, height=1080) in sent
    assert any(isinstance(m, Monitors) and m.current == "2" for m in sent)
    # a new data channel hears the region shown, not the whole desktop
    assert switch.screen(Size(3840, 1080)) == Screen(x=1920, y=0, width=1920, height=1080)

    sent.clear()
    switch.select(SelectMonitor(monitor="all"))
    await _settle()
    assert track.regions[-1] is None and input_path.region is None
    assert Screen(x=0, y=0, width=3840, height=1080) in sent
    switch.close()
    await _settle()
    assert lister.closed


async def test_unknown_monitor_is_refused_and_a_vanished_one_falls_back_to_the_desktop() -> None:
    switch, sent, track, input_path, lister = _switch(build_layout(DESKTOP, TWO))
    switch.select(SelectMonitor(monitor="7"))
    await _settle()
    assert Dropped(reason="monitor_not_found") in sent and track.regions == []

    switch.select(SelectMonitor(monitor="2"))
    await _settle()
    assert input_path.region == RIGHT
    sent.clear()
    lister.current = build_layout(Region(0, 0, 1920, 1080), [RawMonitor("M1", 0, 0, 1920, 1080)])
    switch.start()  # the watch re-lists: monitor 2 is gone
    await _settle()
    assert track.regions[-1] is None and input_path.region is None
    assert any(isinstance(m, Monitors) and m.current == "all" and len(m.monitors) == 1 for m in sent)
    switch.close()


# ---------------------------------------------------------------- the track


class Desktop(ScreenCapture):
    """A 64x32 desktop whose right half is red, left half blue (BGRA)."""

    def __init__(self) -> None:
        self.pixels = np.zeros((32, 64, 4), np.uint8)
        self.pixels[:, :32, 0] = 255
        self.pixels[:, 32:, 2] = 255
        self.region: Region | None = None

    def size(self) -> Size:
        return self.region.size if self.region else Size(64, 32)

    def set_region(self, region: Region | None) -> Size:
        self.region = region
        return self.size()

    def grab(self) -> bytes:
        r = self.region or Region(0, 0, 64, 32)
        return self.pixels[r.y : r.y + r.height, r.x : r.x + r.width].tobytes()

    def close(self) -> None:
        pass


async def test_track_switches_region_at_the_next_frame() -> None:
    track = ScreenTrack(Desktop)
    try:
        assert await track.size() == Size(64, 32)
        assert await track.set_region(Region(32, 0, 32, 32)) == Size(32, 32)
        loop = asyncio.get_running_loop()
        frame: Any = await loop.run_in_executor(track._executor, track._grab, False)
        assert frame is not None and (frame.width, frame.height) == (32, 32)
        rgb = frame.to_ndarray(format="rgb24")
        assert rgb[16, 16, 0] > 200 and rgb[16, 16, 2] < 60  # only the red half is shown
        assert await track.set_region(None) == Size(64, 32)
    finally:
        track.stop()


def test_a_backend_without_regions_refuses_one() -> None:
    class Whole(Desktop):
        set_region = ScreenCapture.set_region

    assert Whole().set_region(None) == Size(64, 32)
    with pytest.raises(CaptureError):
        Whole().set_region(RIGHT)


class BrokenLister(FakeLister):
    def layout(self) -> Layout:
        raise CaptureError("no RandR, no mss")


async def test_without_a_list_only_the_whole_desktop_can_be_shown() -> None:
    sent: list[AgentDataMessage] = []
    track, input_path = FakeTrack(), FakeInput()
    switch = MonitorSwitch(
        send=sent.append,
        track=lambda: track,
        input_path=input_path,
        may_show=lambda: True,
        lister=lambda: BrokenLister(build_layout(DESKTOP, [])),  # type: ignore[arg-type,return-value]
    )
    switch.select(SelectMonitor(monitor="2"))
    await _settle()
    assert sent == [Dropped(reason="monitors_unavailable")] and track.regions == []
    switch.select(SelectMonitor(monitor="all"))
    await _settle()
    assert track.regions == [None] and sent[-1] == Screen(width=3840, height=1080)
    switch.close()


class ViewTrack:
    """A track that only records the views it is given."""

    def __init__(self) -> None:
        self.views: list[View] = []

    async def set_view(self, view: View) -> None:
        self.views.append(view)


async def test_a_flood_of_views_writes_a_line_per_view_applied_not_per_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The agent's log keeps a few MiB: views sent in a loop must not push the consent and code
    lines out of it (security review of issue 18, F3)."""
    track = ViewTrack()
    switch = MonitorSwitch(
        send=lambda message: None,
        track=lambda: track,
        input_path=type("In", (), {"set_region": lambda self, r: None})(),
        may_show=lambda: True,
    )
    caplog.set_level(logging.INFO, logger="veo.agent.monitors")
    try:
        for _ in range(500):
            switch.set_view(View(width=1920, height=1080))  # the same view again and again
        for width in range(1000, 1200):
            switch.set_view(View(width=width, height=600))
        for _ in range(5):
            await asyncio.sleep(0)
        lines = [r for r in caplog.records if r.getMessage().startswith("view ")]
        assert 1 <= len(lines) == len(track.views) <= 3
        assert track.views[-1] == View(width=1199, height=600)
    finally:
        switch.close()
