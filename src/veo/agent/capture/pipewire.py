"""Wayland screen capture: the PipeWire streams the desktop's ScreenCast portal opened.

On Wayland no program may read the screen by itself; the portal asks the user and then hands
veo a PipeWire connection (a file descriptor) and one stream per monitor the user shared. Each
stream is read by a GStreamer pipeline (``pipewiresrc fd=.. path=<node> ! videoconvert !
BGRx appsink``, PyGObject, imported only here so the X11 agent never needs it).

What the X11 path does well is kept:

- **nothing while the screen is still**: the compositor sends a picture only when the monitor
  changed, and each arrival pokes the stream through :meth:`PipeWireCapture.change_watcher`
  (instead of X DAMAGE): no grab, no compare, no frame until then, and a change is taken at
  once. The tile map of :mod:`veo.agent.damage` still decides what changed in it;
- **monitors the technician can choose**: the whole desktop is the streams' pictures placed
  where the portal says each monitor sits (:mod:`veo.agent.capture.compose`); a region that is
  one monitor (:meth:`PipeWireCapture.set_region`) is that stream's picture, passed on without
  a copy;
- **one capture thread**: pictures arrive in GStreamer's threads, which only keep the newest
  one (a reference, no copy); :meth:`PipeWireCapture.grab` copies it once, in the capture thread.

A monitor whose size changes (the user changed the resolution) keeps the size announced to the
console until the session shows it again: its new picture is cut or padded with black, and
:meth:`PipeWireCapture.current_streams` (which ``PortalMonitors`` lists) reports the new size,
so the session's monitor watch re-selects it with the new coordinate space.

The pointer is in the picture (the portal's *embedded* cursor mode): ``pipewiresrc`` does not
pass on PipeWire's cursor metadata.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from veo.agent.backend import BackendError
from veo.agent.capture.base import CaptureError, ChangeWatcher, Region, ScreenCapture, Size
from veo.agent.capture.compose import Canvas, Picture, packed
from veo.agent.desktop import StreamInfo

log = logging.getLogger(__name__)

#: how long the first picture of every stream may take (the compositor sends one at once)
FIRST_PICTURE_SECONDS = 5.0
#: the GStreamer elements each stream needs
ELEMENTS = ("pipewiresrc", "videoconvert", "appsink")


def keep_the_system_unwinder() -> None:
    """Load GCC's unwinder into the global symbol scope before GStreamer comes in.

    Debian's libgstreamer links libunwind, which defines the same ``_Unwind_*`` symbols as GCC's
    ``libgcc_s``. Once GStreamer is loaded globally, a C++ extension loaded later resolves them to
    libunwind's, and its first exception aborts the process inside libstdc++ (seen with
    matplotlib's ft2font: ``import matplotlib.pyplot`` after ``Gst.init`` was a segmentation
    fault). Whatever is global first wins, so ``libgcc_s`` goes first; where it cannot be found
    there is no C++ runtime to protect.
    """
    try:
        ctypes.CDLL("libgcc_s.so.1", mode=ctypes.RTLD_GLOBAL)
    except OSError:
        log.debug("libgcc_s not found: nothing to keep")


def load_gst(elements: Sequence[str] = ELEMENTS) -> Any:
    """GStreamer through PyGObject, initialised; ``BackendError("no_gstreamer")`` when PyGObject,
    GStreamer or one of ``elements`` (:data:`ELEMENTS`; ``pipewiresrc`` is its own package) is
    missing."""
    keep_the_system_unwinder()
    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import Gst
    except (ImportError, ValueError) as exc:  # ValueError: no Gst typelib
        raise BackendError("no_gstreamer", str(exc)) from None
    if not Gst.is_initialized():
        Gst.init(None)
    missing = [name for name in elements if Gst.ElementFactory.find(name) is None]
    if missing:
        raise BackendError("no_gstreamer", "missing GStreamer elements: " + ", ".join(missing))
    return Gst


class StreamSource(Protocol):
    """One monitor's pictures as they arrive (a GStreamer pipeline; tests give fakes)."""

    def size(self) -> Size | None:
        """The size of the newest picture that arrived (``None`` before the first); any thread."""

    def take(self) -> Picture | None:
        """The newest picture not taken yet, or ``None`` (none arrived since)."""

    def failure(self) -> str | None:
        """Why the stream stopped, or ``None`` while it runs."""

    def close(self) -> None: ...


#: opens one stream: (the PipeWire fd or ``None`` for the default daemon, the stream, a callback
#: for each arrival, called in whatever thread the picture arrives on)
SourceFactory = Callable[[int | None, StreamInfo, Callable[[], None]], StreamSource]


class GstSource:
    """``pipewiresrc ! videoconvert ! BGRx appsink`` for one PipeWire node.

    The appsink's ``new-sample`` runs in GStreamer's streaming thread: it keeps the newest sample
    (a reference; an older one not taken yet is dropped) and calls ``on_picture``. ``pipewiresrc``
    duplicates the fd it is given, so several sources may share one.
    """

    def __init__(self, fd: int | None, info: StreamInfo, on_picture: Callable[[], None]) -> None:
        self._gst = gst = load_gst()
        remote = f"fd={int(fd)} " if fd is not None else ""
        self._pipeline = gst.parse_launch(
            f"pipewiresrc {remote}path={int(info.node_id)} always-copy=true ! videoconvert ! "
            "video/x-raw,format=BGRx ! appsink name=sink emit-signals=true max-buffers=1 "
            "drop=true sync=false"
        )
        self._on_picture = on_picture
        self._lock = threading.Lock()
        self._sample: Any = None
        self._size: Size | None = None
        self._failure: str | None = None
        self._sink = self._pipeline.get_by_name("sink")
        self._handler = self._sink.connect("new-sample", self._arrived)
        self._bus = self._pipeline.get_bus()
        if self._pipeline.set_state(gst.State.PLAYING) == gst.StateChangeReturn.FAILURE:
            self.close()
            raise CaptureError(f"cannot start the screen stream of node {info.node_id}")

    def _arrived(self, sink: Any) -> Any:
        """GStreamer's streaming thread: keep the newest sample, say that one came."""
        sample = sink.emit("pull-sample")
        if sample is not None:
            caps = sample.get_caps().get_structure(0)
            size = Size(int(caps.get_value("width")), int(caps.get_value("height")))
            with self._lock:
                self._sample = sample
                self._size = size
            self._on_picture()
        return self._gst.FlowReturn.OK

    def size(self) -> Size | None:
        return self._size

    def take(self) -> Picture | None:
        with self._lock:
            sample, self._sample, size = self._sample, None, self._size
        if sample is None or size is None:
            return None
        buffer = sample.get_buffer()
        ok, info = buffer.map(self._gst.MapFlags.READ)
        if not ok:
            raise CaptureError("cannot read a picture of the screen stream")
        try:
            data = bytes(info.data)  # PyGObject copies the mapped memory into a new bytes object
        finally:
            buffer.unmap(info)
        return Picture(size.width, size.height, packed(data, size.width, size.height))

    def failure(self) -> str | None:
        if self._failure is None:
            kinds = self._gst.MessageType.ERROR | self._gst.MessageType.EOS
            message = self._bus.pop_filtered(kinds)
            if message is not None:
                if message.type == self._gst.MessageType.EOS:
                    self._failure = "the desktop ended the screen stream"
                else:
                    error, _debug = message.parse_error()
                    self._failure = str(error.message)
        return self._failure

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._sink.disconnect(self._handler)
        self._pipeline.set_state(self._gst.State.NULL)
        with self._lock:
            self._sample = None


class PictureWatcher:
    """Wakes the stream (on its event loop) when a picture of a shown monitor arrived.

    Like X DAMAGE's *report non-empty*: one wake-up until the stream :meth:`rearm` s right
    before it grabs, however many pictures arrive meanwhile; anything after that wakes it again.
    """

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self._loop: Any = None
        self._pending = False
        self.alive = True

    def start(self, loop: Any) -> None:
        self._loop = loop
        self.poke()  # pictures that arrived before the stream listened

    def poke(self) -> None:
        """A picture arrived (any thread)."""
        loop = self._loop
        if not self.alive or loop is None or self._pending:
            return
        self._pending = True
        with contextlib.suppress(RuntimeError):  # the loop is closing: the session ends anyway
            loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        if self.alive:
            self._on_change()

    def rearm(self) -> None:
        self._pending = False

    def close(self) -> None:
        self.alive = False


class PipeWireCapture(ScreenCapture):
    """The monitors the user shared through the portal, as one :class:`ScreenCapture`.

    ``fd``: the PipeWire connection from ``OpenPipeWireRemote`` (owned from now on, closed by
    :meth:`close`), or ``None`` to use the default PipeWire daemon (tests, benchmarks).
    ``streams``: where each monitor sits on the desktop (the portal's positions). Create, use
    and close it in the capture thread.
    """

    def __init__(
        self,
        fd: int | None,
        streams: Sequence[StreamInfo],
        source_factory: SourceFactory = GstSource,
        first_picture_seconds: float = FIRST_PICTURE_SECONDS,
    ) -> None:
        self._fd = fd
        self._infos = tuple(streams)
        self._sources: list[StreamSource] = []
        self._watcher: PictureWatcher | None = None
        self._visible: frozenset[int] = frozenset()
        self._closed = False
        try:
            if not self._infos:
                raise CaptureError("the desktop shared no screen")
            for index, info in enumerate(self._infos):
                self._sources.append(source_factory(fd, info, self._arrival(index)))
            self._wait_for_pictures(first_picture_seconds)
        except BaseException:
            self.close()
            raise
        self._latest: list[Picture | None] = [None] * len(self._infos)
        self._canvas: Canvas | None = None
        self._drawn: dict[int, Picture] = {}
        self._view = self._desktop()
        self.set_region(None)

    def _wait_for_pictures(self, seconds: float) -> None:
        """Until every stream sent its first picture (which says its real size)."""
        deadline = time.monotonic() + seconds
        while True:
            for info, source in zip(self._infos, self._sources, strict=True):
                failure = source.failure()
                if failure is not None:
                    raise CaptureError(f"the screen stream of node {info.node_id} failed: {failure}")
            if all(source.size() is not None for source in self._sources):
                return
            if time.monotonic() >= deadline:
                raise CaptureError("the desktop sent no picture of its screen")
            time.sleep(0.01)

    # ------------------------------------------------------------ any thread

    def _arrival(self, index: int) -> Callable[[], None]:
        return lambda: self._arrived(index)

    def _arrived(self, index: int) -> None:
        watcher = self._watcher
        if watcher is not None and index in self._visible:
            watcher.poke()

    def current_streams(self) -> tuple[StreamInfo, ...]:
        """The streams with the size of their newest picture (a monitor may have been resized).

        Safe from any thread: ``PortalMonitors`` lists these in the session's listing thread.
        """
        return tuple(self._current(index) for index in range(len(self._infos)))

    def _current(self, index: int) -> StreamInfo:
        info = self._infos[index]
        size = self._sources[index].size() if index < len(self._sources) else None
        if size is None or (size.width, size.height) == (info.width, info.height):
            return info
        return replace(info, width=size.width, height=size.height)

    # ------------------------------------------------------------ capture thread

    def _rect(self, index: int) -> Region:
        info = self._current(index)
        return Region(info.x, info.y, info.width, info.height)

    def _desktop(self) -> Region:
        """All monitors: from the desktop's origin (the portal's coordinates, as input uses them)
        to the right and bottom edges of the farthest monitors."""
        rects = [self._rect(index) for index in range(len(self._infos))]
        return Region(0, 0, max(r.x + r.width for r in rects), max(r.y + r.height for r in rects))

    def size(self) -> Size:
        return self._view.size

    def set_region(self, region: Region | None) -> Size:
        """Show ``region`` (clipped to the desktop; one monitor's is that stream) or everything."""
        desktop = self._desktop()
        view = desktop if region is None else region.clip(desktop)
        if view is None:
            raise CaptureError(f"the region {region} is outside the desktop {desktop}")
        self._view = view
        self._canvas = None
        self._drawn = {}
        self._update_visible()
        return view.size

    def _update_visible(self) -> None:
        self._visible = frozenset(
            index for index in range(len(self._infos)) if self._rect(index).clip(self._view) is not None
        )

    def grab(self) -> bytes | memoryview:
        if self._closed:
            raise CaptureError("the screen capture is closed")
        self._update_visible()  # a resized monitor may now reach into the view, or leave it
        for index in sorted(self._visible):
            failure = self._sources[index].failure()
            if failure is not None:
                raise CaptureError(f"the screen stream stopped: {failure}")
            picture = self._sources[index].take()
            if picture is not None:
                self._latest[index] = picture
        shown = [index for index in sorted(self._visible) if self._latest[index] is not None]
        if len(shown) == 1:  # one monitor filling the view exactly: its picture as it came
            picture = self._latest[shown[0]]
            info = self._infos[shown[0]]
            if picture is not None and Region(info.x, info.y, picture.width, picture.height) == self._view:
                return picture.data
        return self._compose(shown)

    def _compose(self, shown: list[int]) -> memoryview:
        """The view drawn from the monitors' newest pictures, redrawing only those that changed."""
        if self._canvas is None:
            self._canvas = Canvas(self._view)
            self._drawn = {}
        pictures = {index: picture for index in shown if (picture := self._latest[index]) is not None}
        resized = any(
            (old.width, old.height) != (pictures[index].width, pictures[index].height)
            for index, old in self._drawn.items()
            if index in pictures
        )
        if resized or set(self._drawn) - set(pictures):
            self._canvas.clear()
            self._drawn = {}
        for index, picture in pictures.items():
            if self._drawn.get(index) is not picture:
                info = self._infos[index]
                self._canvas.draw(info.x, info.y, picture)
                self._drawn[index] = picture
        return self._canvas.data()

    def change_watcher(self, on_change: Callable[[], None]) -> ChangeWatcher:
        """Wakes the stream when a picture of a shown monitor arrived (the compositor sends one
        only when the monitor changed)."""
        if self._watcher is not None:
            self._watcher.close()
        self._watcher = PictureWatcher(on_change)
        return self._watcher

    def close(self) -> None:
        """Stop every pipeline and close the PipeWire descriptor; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._watcher is not None:
            self._watcher.close()
        for source in self._sources:
            try:
                source.close()
            except Exception:  # one broken pipeline must not keep the others running
                log.warning("stopping a screen stream failed", exc_info=True)
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
