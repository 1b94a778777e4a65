"""PipeWireCapture against a real headless mutter with two monitors (``veo.bench.wayland``).

The streams come from Mutter's own ``org.gnome.Mutter.ScreenCast`` API (one per monitor, the
pointer drawn in, as the portal's *embedded* mode), so no dialog is needed; the capture reaches
PipeWire through a descriptor, as it gets one from the portal's ``OpenPipeWireRemote``. What is
checked: pictures arrive with each monitor's size, the whole desktop is both side by side, a
still screen sends no picture (the stream is not woken for a second), a change (pointer motion
through Mutter's RemoteDesktop, a Wayland window shown) wakes it at once with different pixels,
the window's colours are where the window is, and close() stops it all. One test takes the
production path instead: GNOME's real dialog (answered through its accessibility tree) and the
capture ``PortalDesktop`` makes from the portal's own descriptor. The median grab cost
per 1280x720 and 1920x1080 picture is printed (``-s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pytest
from tests.integration.wayland_support import BACKGROUND_RGB, BUTTON, BUTTON_RGB, wayland_app

from veo.agent.capture.base import Region, Size
from veo.agent.capture.pipewire import PipeWireCapture
from veo.agent.damage import TileMap
from veo.agent.desktop import StreamInfo
from veo.agent.portal.monitors import PortalMonitors
from veo.bench.wayland import WaylandDesktop, missing_tools
from veo.tasks import spawn

pytestmark = pytest.mark.timeout(240)

T = TypeVar("T")
BIG, SMALL = (1920, 1080), (1280, 720)
RD, SC, DC = "org.gnome.Mutter.RemoteDesktop", "org.gnome.Mutter.ScreenCast", "org.gnome.Mutter.DisplayConfig"


class MutterCast:
    """A Mutter remote-desktop session recording every monitor (pointer drawn in), on an event
    loop of its own thread; :meth:`move` moves the pointer over one monitor."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._bus: Any = None
        self._session: Any = None
        self._stream_paths: dict[int, str] = {}
        self.streams: list[StreamInfo] = self.run(self._start())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _interface(self, name: str, path: str, iface: str) -> Any:
        proxy = self._bus.get_proxy_object(name, path, await self._bus.introspect(name, path))
        return proxy.get_interface(iface)

    async def _start(self) -> list[StreamInfo]:
        from dbus_fast import Variant
        from dbus_fast.aio import MessageBus

        self._bus = await MessageBus(bus_address=self._env["DBUS_SESSION_BUS_ADDRESS"]).connect()
        display = await self._interface(DC, "/org/gnome/Mutter/DisplayConfig", DC)
        _serial, monitors, logical, _props = await display.call_get_current_state()
        sizes = {}
        for spec, modes, _mprops in monitors:
            for mode in modes:
                if mode[6].get("is-current") and mode[6]["is-current"].value:
                    sizes[spec[0]] = (int(mode[1]), int(mode[2]))
        places = {connector[0]: (int(item[0]), int(item[1])) for item in logical for connector in item[5]}
        remote = await self._interface(RD, "/org/gnome/Mutter/RemoteDesktop", RD)
        self._session = await self._interface(RD, await remote.call_create_session(), f"{RD}.Session")
        session_id = await self._session.get_session_id()
        cast = await self._interface(SC, "/org/gnome/Mutter/ScreenCast", SC)
        cast_path = await cast.call_create_session({"remote-desktop-session-id": Variant("s", session_id)})
        cast_session = await self._interface(SC, cast_path, f"{SC}.Session")
        pending = []
        for connector, (width, height) in sorted(sizes.items()):
            path = await cast_session.call_record_monitor(connector, {"cursor-mode": Variant("u", 1)})
            stream = await self._interface(SC, path, f"{SC}.Stream")
            node: asyncio.Future[int] = self._loop.create_future()
            stream.on_pipe_wire_stream_added(node.set_result)
            pending.append((path, node, places[connector], (width, height)))
        await self._session.call_start()
        streams = []
        for path, node, (x, y), (width, height) in pending:
            node_id = await asyncio.wait_for(node, 20)
            self._stream_paths[node_id] = path
            streams.append(StreamInfo(node_id=node_id, x=x, y=y, width=width, height=height))
        return sorted(streams, key=lambda s: s.x)

    def move(self, stream: StreamInfo, x: float, y: float) -> None:
        self.run(self._session.call_notify_pointer_motion_absolute(self._stream_paths[stream.node_id], x, y))

    def close(self) -> None:
        async def stop() -> None:
            try:
                await self._session.call_stop()
            finally:
                self._bus.disconnect()

        try:
            self.run(stop(), timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


class Wakes:
    """The stream's side of the capture's watcher: counts wake-ups, on the cast's event loop."""

    def __init__(self, capture: PipeWireCapture, cast: MutterCast) -> None:
        self.event = threading.Event()
        self.count = 0
        self.watcher = capture.change_watcher(self._woken)
        self.watcher.start(cast._loop)

    def _woken(self) -> None:
        self.count += 1
        self.event.set()

    def settle(self, quiet: float = 0.5, within: float = 10) -> None:
        """Until no picture came for ``quiet`` seconds (the first pictures after a start)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.event.clear()
            self.watcher.rearm()
            if not self.event.wait(quiet):
                return
        raise AssertionError("the screen never became still")

    def wait(self, timeout: float) -> bool:
        self.event.clear()
        self.watcher.rearm()
        return self.event.wait(timeout)


@pytest.fixture(scope="module")
def desktop() -> Iterator[WaylandDesktop]:
    missing = missing_tools()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the Wayland desktop needs {missing}", pytrace=False)
        pytest.skip(f"the Wayland desktop needs {missing} (make system-packages)")
    with WaylandDesktop(size=BIG, more_monitors=[SMALL], wayland_display="veo-pwc") as started:
        yield started


@pytest.fixture
def cast(desktop: WaylandDesktop) -> Iterator[MutterCast]:
    started = MutterCast(desktop.env)
    try:
        yield started
    finally:
        started.close()


def _pipewire_fd(desktop: WaylandDesktop) -> int:
    """A connection to the desktop's PipeWire, as ``OpenPipeWireRemote`` hands one out."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(desktop.runtime_dir / "pipewire-0"))
    return sock.detach()


def _pixels(raw: bytes | bytearray | memoryview, size: Size) -> npt.NDArray[np.uint8]:
    return np.frombuffer(raw, np.uint8).reshape(size.height, size.width, 4).copy()


def test_pictures_arrive_with_each_monitors_size_and_the_desktop_is_both_side_by_side(
    desktop: WaylandDesktop, cast: MutterCast
) -> None:
    assert [(s.width, s.height) for s in cast.streams] == [BIG, SMALL]
    fd = _pipewire_fd(desktop)
    capture = PipeWireCapture(fd, cast.streams)
    try:
        assert capture.size() == Size(BIG[0] + SMALL[0], BIG[1])
        assert len(capture.grab()) == (BIG[0] + SMALL[0]) * BIG[1] * 4
        layout = PortalMonitors(capture.current_streams).layout()
        assert [m.region for m in layout.monitors] == [
            Region(0, 0, *BIG),
            Region(BIG[0], 0, *SMALL),
        ]
        for monitor, size in zip(layout.monitors, (BIG, SMALL), strict=True):
            assert capture.set_region(monitor.region) == Size(*size)
            assert len(capture.grab()) == size[0] * size[1] * 4
    finally:
        capture.close()
    with pytest.raises(OSError):
        os.fstat(fd)  # the descriptor it was given is closed with it


def test_a_still_screen_sends_nothing_and_a_change_wakes_the_stream_at_once(
    desktop: WaylandDesktop, cast: MutterCast
) -> None:
    capture = PipeWireCapture(_pipewire_fd(desktop), cast.streams)
    try:
        tiles = TileMap(capture.size())
        wakes = Wakes(capture, cast)
        cast.move(cast.streams[1], 100, 100)  # the pointer on the small monitor, then rest
        wakes.settle()
        tiles.diff(tiles.view(capture.grab()))
        assert not wakes.wait(1.0), "a still screen woke the stream"
        assert not tiles.diff(tiles.view(capture.grab())).any()  # and nothing changed indeed
        started = time.monotonic()
        cast.move(cast.streams[1], 600, 400)
        assert wakes.wait(2.0), "pointer motion did not wake the stream"
        woken_after = time.monotonic() - started
        changed = tiles.diff(tiles.view(capture.grab()))
        assert changed.any(), "the new picture has the same pixels"
        columns = np.flatnonzero(changed.any(axis=0)) * tiles.tile
        assert columns.min() >= BIG[0] - tiles.tile  # on the small monitor, where the pointer is
        print(f"\npointer motion woke the stream after {woken_after * 1000:.0f} ms")
    finally:
        capture.close()


def test_a_wayland_window_shows_in_its_colours_where_it_is(
    desktop: WaylandDesktop, cast: MutterCast, tmp_path: Path
) -> None:
    capture = PipeWireCapture(_pipewire_fd(desktop), cast.streams)
    try:
        wakes = Wakes(capture, cast)
        wakes.settle()
        before = _pixels(capture.grab(), capture.size())
        seen = wakes.count
        with wayland_app(desktop, tmp_path):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                # the app may have drawn its window before it said it was ready (a wake already
                # counted); a still window draws nothing more, so only wait when none came yet
                if wakes.count == seen:
                    assert wakes.wait(5.0), "the window's pictures did not wake the stream"
                seen = wakes.count
                pixels = _pixels(capture.grab(), capture.size())
                # the app is fullscreen on one of the monitors: find where its button shows
                found = _app_origin(pixels, [(s.x, s.y) for s in cast.streams])
                if found is not None:
                    break
            assert found is not None, "the window's colours never showed"
            assert not np.array_equal(before, pixels)
    finally:
        capture.close()


def _app_origin(pixels: npt.NDArray[np.uint8], origins: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The monitor origin at which the app's button and background show in their colours (BGRx)."""
    x, y, width, height = BUTTON
    for ox, oy in origins:
        button = pixels[oy + y + height // 2, ox + x + width // 2, :3][::-1]
        background = pixels[oy + 50, ox + 50, :3][::-1]
        if (
            np.abs(button.astype(int) - BUTTON_RGB).max() <= 8
            and np.abs(background.astype(int) - BACKGROUND_RGB).max() <= 8
        ):
            return ox, oy
    return None


def test_grab_cost_per_picture(desktop: WaylandDesktop, cast: MutterCast) -> None:
    """The median cost of grab() for a new picture of each monitor (pointer moving over it)."""
    capture = PipeWireCapture(_pipewire_fd(desktop), cast.streams)
    results = {}
    try:
        wakes = Wakes(capture, cast)
        cases: list[tuple[str, StreamInfo, Region | None]] = [
            (f"{s.width}x{s.height}", s, Region(s.x, s.y, s.width, s.height)) for s in cast.streams
        ]
        cases.append(("whole desktop (composed)", cast.streams[1], None))
        for name, stream, region in cases:
            size = capture.set_region(region)
            wakes.settle()
            costs = []
            for step in range(40):
                cast.move(stream, 200 + 10 * step, 200 + 5 * (step % 2))
                if not wakes.wait(2.0):
                    continue
                started = time.perf_counter()
                raw = capture.grab()
                costs.append(time.perf_counter() - started)
                assert len(raw) == size.width * size.height * 4
            assert len(costs) >= 30, f"only {len(costs)} of 40 moves gave a picture"
            results[name] = statistics.median(costs) * 1000
    finally:
        capture.close()
    print("\nmedian grab() per new picture: " + ", ".join(f"{k} {v:.2f} ms" for k, v in results.items()))


class CountingCapture(PipeWireCapture):
    grabs = 0

    def grab(self) -> bytes | memoryview:
        self.grabs += 1
        return super().grab()


def test_the_stream_grabs_only_when_a_picture_came(desktop: WaylandDesktop, cast: MutterCast) -> None:
    """ScreenTrack over the real capture: a still screen costs only the few scheduled repeats
    (polling at the rate cap would grab ~60 times a second); pointer motion is sent at once."""
    from veo.agent.stream import ScreenTrack

    made: list[CountingCapture] = []

    def factory() -> CountingCapture:
        made.append(CountingCapture(_pipewire_fd(desktop), cast.streams))
        return made[0]

    async def run() -> tuple[int, float]:
        track = ScreenTrack(factory, damage_factory=None)
        try:
            track.allow()
            await track.recv()
            deadline = time.monotonic() + 4  # let the refinement repeats of the first frame pass
            while time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(track.recv(), deadline - time.monotonic())
            grabs = made[0].grabs
            await asyncio.sleep(1.0)
            still_grabs = made[0].grabs - grabs
            source = track._source
            assert source is not None
            converted = source.pixels_converted
            started = time.monotonic()
            await asyncio.to_thread(cast.move, cast.streams[0], 300, 300)
            while source.pixels_converted == converted:
                await asyncio.wait_for(track.recv(), 2)
            return still_grabs, time.monotonic() - started
        finally:
            track.stop()
            track._executor.shutdown(wait=True)

    still_grabs, latency = asyncio.run(run())
    assert still_grabs <= 1, f"{still_grabs} grabs in a still second"
    print(f"\nstill second: {still_grabs} grabs; pointer motion to a sent frame: {latency * 1000:.0f} ms")


def test_through_the_real_portal_the_granted_stream_is_read_over_its_descriptor(
    desktop: WaylandDesktop, tmp_path: Path
) -> None:
    """The production path: GNOME's dialog answered (test side, accessibility tree), then the
    capture PortalDesktop makes from the portal's own descriptor (``OpenPipeWireRemote``)."""
    from veo.agent.portal.desktop import PortalDesktop
    from veo.bench.wayland import answer_share_dialog_async

    async def run() -> None:
        portal = PortalDesktop(desktop.env["DBUS_SESSION_BUS_ADDRESS"])
        try:
            answer = spawn(answer_share_dialog_async(desktop.env, allow_control=False), name="test-answer")
            grant = await portal.open(want_control=True)
            await answer
            assert grant.pointer_in_picture and grant.streams
            capture = await asyncio.to_thread(portal.capture)
            try:
                shared = grant.streams[0]
                assert capture.size() == Size(shared.width, shared.height)
                assert (shared.width, shared.height) in (BIG, SMALL)
                with wayland_app(desktop, tmp_path):
                    deadline = time.monotonic() + 10
                    found = None
                    while found is None and time.monotonic() < deadline:
                        await asyncio.sleep(0.2)
                        pixels = _pixels(await asyncio.to_thread(capture.grab), capture.size())
                        found = _app_origin(pixels, [(0, 0)])
                    assert found is not None, "the window's colours never showed through the portal"
            finally:
                await asyncio.to_thread(capture.close)
        finally:
            await portal.close()

    asyncio.run(run())
