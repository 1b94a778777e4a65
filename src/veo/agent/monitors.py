"""Which part of the desktop the session shows: one monitor or all of them (session glue).

The console lists the user's monitors and picks one (``select_monitor``, needs the view grant);
the agent then captures only that monitor's rectangle, tells the console the new coordinate
space (``screen`` with the monitor's origin and size) and adds that origin to every pointer
position it injects, clamped to the monitor, so a click aimed at one monitor cannot land on
another. ``all`` goes back to the whole desktop.

How large the console shows that picture (``view``, also needs the view grant) is passed to the
track, which encodes a larger picture at the size shown (:mod:`veo.agent.scaling`); the
coordinate space announced in ``screen`` stays the captured one. The last view is kept for the
next connection's track, as the monitor chosen is.

The list is sent once the user allowed viewing and again whenever it changes (re-listed every
few seconds: a monitor plugged in, removed or resized); if the monitor being shown disappears,
the session falls back to the whole desktop by itself. Listing runs in its own thread, which
owns its X connection.

Log lines (stable, tests read them): ``monitors listed n=<count>``,
``monitor shown id=<id> x=<x> y=<y> width=<w> height=<h>``, ``monitor not shown id=<id>: <why>``,
``view width=<w> height=<h> zoom=<fit|full>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from veo.agent.capture.base import CaptureError, Region, Size
from veo.agent.capture.monitors import Layout, MonitorLister
from veo.agent.desktop import DesktopMonitors
from veo.protocol.datachannel import AgentDataMessage, Dropped, Screen, View
from veo.protocol.monitors import ALL_MONITORS, MonitorInfo, Monitors, SelectMonitor
from veo.tasks import spawn

log = logging.getLogger(__name__)

POLL_SECONDS = 3.0
WAIT_SECONDS = 0.5


class RegionTrack(Protocol):
    """The video track, as far as switching goes (``ScreenTrack`` is one)."""

    async def set_region(self, region: Region | None) -> Size: ...

    async def set_view(self, view: View) -> None: ...


class RegionInput(Protocol):
    """The input path, as far as switching goes (``InputWorker`` is one)."""

    def set_region(self, region: Region | None) -> None: ...


def monitors_message(layout: Layout, current: str) -> Monitors:
    return Monitors(
        monitors=[
            MonitorInfo(
                id=m.id,
                name=m.name,
                x=m.region.x,
                y=m.region.y,
                width=m.region.width,
                height=m.region.height,
                primary=m.primary,
            )
            for m in layout.monitors
        ],
        current=current,
    )


class MonitorSwitch:
    """Lists monitors for the console and switches the track and the input between them."""

    def __init__(
        self,
        *,
        send: Callable[[AgentDataMessage], None],
        track: Callable[[], RegionTrack | None],
        input_path: RegionInput,
        may_show: Callable[[], bool],
        lister: Callable[[], MonitorLister | DesktopMonitors] = MonitorLister,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._send = send
        self._track = track
        self._input = input_path
        self._may_show = may_show
        self._lister_factory = lister
        self._poll = poll_seconds
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="veo-monitors")
        self._lister: MonitorLister | DesktopMonitors | None = None  # only in the listing thread
        self._lock = asyncio.Lock()
        self._layout: Layout | None = None
        self._sent: Monitors | None = None
        self._current = ALL_MONITORS
        self._region: Region | None = None
        self._screen: Screen | None = None
        self._view: View | None = None
        self._view_task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._closed = False
        self._failed_once = False

    @property
    def region(self) -> Region | None:
        """The desktop rectangle shown now (``None``: the whole desktop); features that draw or
        report positions (pointer, annotation) convert with it as the input does."""
        return self._region

    # ------------------------------------------------------------ session hooks

    def screen(self, whole: Size) -> Screen:
        """The ``screen`` to announce when the data channel opens: the region shown, or ``whole``."""
        if self._screen is not None:
            return self._screen
        return Screen(width=whole.width, height=whole.height)

    def start(self) -> None:
        """The data channel is open: list the monitors now and watch them until :meth:`close`."""
        if self._closed:
            return
        self._sent = None  # a new channel has not heard the list yet
        if self._watch is None or self._watch.done():
            self._watch = spawn(self._watch_loop(), name="veo-agent-monitors")

    def select(self, message: SelectMonitor) -> None:
        """The console chose ``message.monitor`` (already allowed by the policy: view)."""
        if not self._closed:
            spawn(self._select(message.monitor), name="veo-agent-select-monitor")

    @property
    def view(self) -> View | None:
        """The console's last ``view`` (``None`` before the first): a new connection's track gets it."""
        return self._view

    def set_view(self, message: View) -> None:
        """The console shows the screen at ``message`` (already allowed by the policy: view)."""
        if self._closed:
            return
        if self._view == message:  # a repeat changes nothing and must not fill the log
            return
        self._view = message
        if self._view_task is None or self._view_task.done():  # one at a time: a flood coalesces
            self._view_task = spawn(self._apply_views(), name="veo-agent-view")

    async def _apply_views(self) -> None:
        """Give the track the newest view until it has it (views that came meanwhile are skipped)."""
        applied: View | None = None
        while self._view is not applied and not self._closed:
            applied = self._view
            track = self._track()
            if track is None or applied is None:
                return
            # logged once per view handed to the track: a flood of views coalesces, and so do its lines
            log.info("view width=%d height=%d zoom=%s", applied.width, applied.height, applied.zoom)
            with contextlib.suppress(RuntimeError):  # the track stopped meanwhile (executor shut down)
                await track.set_view(applied)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
        with contextlib.suppress(RuntimeError):
            self._executor.submit(self._close_lister)
        self._executor.shutdown(wait=False)

    # ------------------------------------------------------------ listing thread

    def _list_now(self) -> Layout:
        if self._lister is None:
            self._lister = self._lister_factory()
        return self._lister.layout()

    def _close_lister(self) -> None:
        if self._lister is not None:
            self._lister.close()
            self._lister = None

    async def _list(self) -> Layout | None:
        loop = asyncio.get_running_loop()
        try:
            layout = await loop.run_in_executor(self._executor, self._list_now)
        except (CaptureError, RuntimeError) as exc:  # RuntimeError: executor shut down by close()
            if not self._closed and not self._failed_once:
                log.warning("cannot list the monitors: %s", exc)
            self._failed_once = True
            return None
        self._layout = layout
        return layout

    # ------------------------------------------------------------ event loop

    async def _watch_loop(self) -> None:
        while not self._closed:
            if self._may_show():
                async with self._lock:
                    await self._refresh()
                await asyncio.sleep(self._poll)
            else:
                await asyncio.sleep(WAIT_SECONDS)

    async def _refresh(self) -> None:
        """Re-list; follow a change of the monitor shown; send the list when it changed."""
        layout = await self._list()
        if layout is None or self._closed:
            return
        if self._current != ALL_MONITORS:
            shown = layout.find(self._current)
            if shown is None:
                log.info("monitor %s is gone: showing the whole desktop", self._current)
                await self._show(ALL_MONITORS, None)
            elif shown.region != self._region:
                await self._show(shown.id, shown.region)
        self._announce(layout)

    def _announce(self, layout: Layout) -> None:
        message = monitors_message(layout, self._current)
        if message != self._sent:
            if self._sent is None or message.monitors != self._sent.monitors:
                log.info("monitors listed n=%d", len(message.monitors))
            self._send(message)
            self._sent = message

    async def _select(self, monitor_id: str) -> None:
        async with self._lock:
            layout = await self._list()
            if self._closed:
                return
            if monitor_id == ALL_MONITORS:  # needs no list: the whole desktop is always there
                await self._show(ALL_MONITORS, None)
            elif layout is None:
                self._refuse(monitor_id, "monitors_unavailable")
                return
            else:
                chosen = layout.find(monitor_id)
                if chosen is None:
                    self._refuse(monitor_id, "monitor_not_found")
                    self._sent = None  # the console's list is stale: send it again
                else:
                    await self._show(chosen.id, chosen.region)
            if layout is not None:
                self._announce(layout)

    def _refuse(self, monitor_id: str, reason: str) -> None:
        log.warning("monitor not shown id=%s: %s", monitor_id, reason)
        self._send(Dropped(reason=reason))

    async def _show(self, monitor_id: str, region: Region | None) -> None:
        track = self._track()
        if track is None:
            self._refuse(monitor_id, "no_video")
            return
        try:
            size = await track.set_region(region)
        except (CaptureError, RuntimeError, ValueError) as exc:  # RuntimeError: track stopped
            log.warning("monitor not shown id=%s: %s", monitor_id, exc)
            self._send(Dropped(reason="capture_failed"))
            return
        if self._closed:
            return
        x, y = (region.x, region.y) if region is not None else (0, 0)
        # the track may crop an odd last row/column: input is clamped to what the console sees
        self._region = Region(x, y, size.width, size.height) if region is not None else None
        self._input.set_region(self._region)
        self._current = monitor_id
        self._screen = Screen(x=x, y=y, width=size.width, height=size.height)
        self._send(self._screen)
        log.info(
            "monitor shown id=%s x=%d y=%d width=%d height=%d", monitor_id, x, y, size.width, size.height
        )
