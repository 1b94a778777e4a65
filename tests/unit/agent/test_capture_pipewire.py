"""PipeWireCapture without a display: fake streams stand for the GStreamer pipelines.

What is checked: the whole desktop is the monitors' pictures placed where the portal says
(black where none is), one monitor's region is its own picture passed on as it came, a resized
monitor keeps the announced size until shown again (and is reported with its new size), only a
shown monitor's new picture wakes the stream, a failed stream is a capture error, close()
closes the pipelines and the descriptor, and the portal monitors' layout.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from veo.agent.backend import BackendError
from veo.agent.capture import pipewire
from veo.agent.capture.base import CaptureError, Region, Size
from veo.agent.capture.compose import Canvas, Picture, packed
from veo.agent.capture.pipewire import PictureWatcher, PipeWireCapture
from veo.agent.damage import TileMap
from veo.agent.desktop import StreamInfo
from veo.agent.portal.monitors import PortalMonitors, portal_layout


def _picture(width: int, height: int, value: int) -> Picture:
    return Picture(width, height, np.full((height, width), value, np.uint32).tobytes())


class FakeSource:
    """One monitor's stream: the test hands it pictures as the compositor would."""

    def __init__(self, fd: int | None, info: StreamInfo, on_picture: Callable[[], None]) -> None:
        self.info = info
        self.on_picture = on_picture
        self.pending: Picture | None = None
        self.current: Size | None = None
        self.broken: str | None = None
        self.closed = False
        self.takes = 0
        self.send(_picture(info.width, info.height, info.node_id))

    def send(self, picture: Picture) -> None:
        self.pending = picture
        self.current = Size(picture.width, picture.height)
        self.on_picture()

    def size(self) -> Size | None:
        return self.current

    def take(self) -> Picture | None:
        self.takes += 1
        picture, self.pending = self.pending, None
        return picture

    def failure(self) -> str | None:
        return self.broken

    def close(self) -> None:
        self.closed = True


LEFT = StreamInfo(node_id=11, x=0, y=0, width=8, height=6)
RIGHT = StreamInfo(node_id=22, x=8, y=0, width=4, height=4)


def _capture(*streams: StreamInfo, fd: int | None = None) -> tuple[PipeWireCapture, list[FakeSource]]:
    sources: list[FakeSource] = []

    def factory(fd: int | None, info: StreamInfo, on_picture: Callable[[], None]) -> FakeSource:
        sources.append(FakeSource(fd, info, on_picture))
        return sources[-1]

    return PipeWireCapture(fd, streams or (LEFT, RIGHT), source_factory=factory), sources


def _pixels(raw: bytes | memoryview, size: Size) -> npt.NDArray[np.uint32]:
    return np.frombuffer(raw, np.uint32).reshape(size.height, size.width).copy()


def test_the_whole_desktop_is_the_monitors_placed_side_by_side_black_where_none_is() -> None:
    capture, _ = _capture()
    assert capture.size() == Size(12, 6)
    pixels = _pixels(capture.grab(), capture.size())
    assert (pixels[:, :8] == 11).all()
    assert (pixels[:4, 8:] == 22).all()
    assert (pixels[4:, 8:] == 0).all()  # below the smaller monitor


def test_only_the_monitor_that_sent_a_picture_is_redrawn_and_the_rest_stays() -> None:
    capture, sources = _capture()
    capture.grab()
    sources[1].send(_picture(4, 4, 99))
    pixels = _pixels(capture.grab(), capture.size())
    assert (pixels[:4, 8:] == 99).all() and (pixels[:, :8] == 11).all()
    assert sources[0].pending is None  # nothing new there: nothing to copy


def test_a_monitor_region_is_that_streams_picture_as_it_came() -> None:
    capture, sources = _capture()
    assert capture.set_region(Region(8, 0, 4, 4)) == Size(4, 4)
    picture = _picture(4, 4, 77)
    sources[1].send(picture)
    raw = capture.grab()
    assert raw is picture.data  # no copy: the tile map may keep it (bytes never change)
    takes = sources[0].takes
    capture.grab()
    assert sources[0].takes == takes  # the other monitor is not even read


def test_a_region_across_monitors_is_composed() -> None:
    capture, _ = _capture()
    assert capture.set_region(Region(6, 2, 4, 4)) == Size(4, 4)
    pixels = _pixels(capture.grab(), Size(4, 4))
    assert (pixels[:, :2] == 11).all() and (pixels[:2, 2:] == 22).all() and (pixels[2:, 2:] == 0).all()


def test_a_region_outside_the_desktop_is_refused() -> None:
    capture, _ = _capture()
    with pytest.raises(CaptureError):
        capture.set_region(Region(100, 100, 10, 10))


def test_a_resized_monitor_keeps_the_announced_size_until_shown_again() -> None:
    capture, sources = _capture(LEFT)
    assert capture.size() == Size(8, 6)
    sources[0].send(_picture(10, 5, 5))  # the user changed the resolution
    raw = capture.grab()
    tiles = TileMap(capture.size())
    pixels = tiles.view(raw)  # still the size the console was told
    assert (pixels[:5, :] == 5).all() and (pixels[5:, :] == 0).all()
    assert capture.current_streams() == (StreamInfo(node_id=11, x=0, y=0, width=10, height=5),)
    layout = PortalMonitors(capture.current_streams).layout()
    assert layout.monitors[0].region == Region(0, 0, 10, 5)
    assert capture.set_region(layout.monitors[0].region) == Size(10, 5)  # the session re-selects
    assert (_pixels(capture.grab(), Size(10, 5)) == 5).all()


def test_a_grown_monitor_covers_what_it_did_not_before_and_a_shrunk_one_leaves_black() -> None:
    capture, sources = _capture()
    sources[1].send(_picture(4, 6, 3))
    assert (_pixels(capture.grab(), capture.size())[:, 8:] == 3).all()
    sources[1].send(_picture(4, 2, 4))
    pixels = _pixels(capture.grab(), capture.size())
    assert (pixels[:2, 8:] == 4).all() and (pixels[2:, 8:] == 0).all()


def test_the_size_comes_from_the_first_pictures_not_from_the_portals_numbers() -> None:
    """A HiDPI monitor's stream may be larger than the portal's logical size."""
    claimed = StreamInfo(node_id=5, x=0, y=0, width=4, height=4)
    sources: list[FakeSource] = []

    def factory(fd: int | None, info: StreamInfo, on_picture: Callable[[], None]) -> FakeSource:
        source = FakeSource(fd, info, on_picture)
        source.send(_picture(8, 8, 1))
        sources.append(source)
        return source

    capture = PipeWireCapture(None, [claimed], source_factory=factory)
    assert capture.size() == Size(8, 8)


def test_no_first_picture_is_an_error_and_closes_what_was_opened() -> None:
    sources: list[FakeSource] = []

    def silent(fd: int | None, info: StreamInfo, on_picture: Callable[[], None]) -> FakeSource:
        source = FakeSource(fd, info, on_picture)
        source.current = None
        sources.append(source)
        return source

    read, write = os.pipe()
    os.close(write)
    with pytest.raises(CaptureError, match="no picture"):
        PipeWireCapture(read, [LEFT], source_factory=silent, first_picture_seconds=0.05)
    assert sources[0].closed
    with pytest.raises(OSError):
        os.fstat(read)  # the descriptor it owned is closed too


def test_a_failed_stream_is_a_capture_error() -> None:
    capture, sources = _capture()
    capture.grab()
    sources[0].broken = "stream error"
    with pytest.raises(CaptureError, match="stream error"):
        capture.grab()


def test_close_stops_every_stream_and_closes_the_descriptor_once() -> None:
    read, write = os.pipe()
    os.close(write)
    capture, sources = _capture(fd=read)
    capture.close()
    capture.close()
    assert all(source.closed for source in sources)
    with pytest.raises(OSError):
        os.fstat(read)
    with pytest.raises(CaptureError):
        capture.grab()


async def test_only_a_shown_monitors_picture_wakes_the_stream_once_until_rearmed() -> None:
    capture, sources = _capture()
    capture.set_region(Region(0, 0, 8, 6))
    woken: list[int] = []
    watcher = capture.change_watcher(lambda: woken.append(1))
    assert isinstance(watcher, PictureWatcher)
    watcher.start(asyncio.get_running_loop())  # what arrived before listening wakes it once
    await asyncio.sleep(0.01)
    assert woken == [1]
    watcher.rearm()
    sources[1].send(_picture(4, 4, 9))  # not shown
    await asyncio.sleep(0.01)
    assert woken == [1]
    sources[0].send(_picture(8, 6, 9))
    sources[0].send(_picture(8, 6, 8))  # before the stream grabbed: one wake-up for both
    await asyncio.sleep(0.01)
    assert woken == [1, 1]
    watcher.rearm()
    sources[0].send(_picture(8, 6, 7))
    await asyncio.sleep(0.01)
    assert woken == [1, 1, 1]
    watcher.close()
    watcher.rearm()
    sources[0].send(_picture(8, 6, 6))
    await asyncio.sleep(0.01)
    assert woken == [1, 1, 1]


def test_packed_drops_row_padding() -> None:
    rows = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 12)
    padded = np.zeros((2, 16), np.uint8)
    padded[:, :12] = rows
    assert packed(padded.tobytes(), 3, 2) == rows.tobytes()
    assert packed(rows.tobytes(), 3, 2) == rows.tobytes()
    with pytest.raises(ValueError):
        packed(b"\0" * 10, 3, 2)


def test_canvas_clips_a_picture_to_its_view() -> None:
    canvas = Canvas(Region(2, 2, 3, 3))
    canvas.draw(0, 0, _picture(4, 4, 1))
    pixels = _pixels(canvas.data(), Size(3, 3))
    assert (pixels[:2, :2] == 1).all() and (pixels[2:, :] == 0).all() and (pixels[:, 2:] == 0).all()


def test_portal_layout_numbers_monitors_left_to_right() -> None:
    layout = portal_layout([RIGHT, LEFT])
    assert layout.desktop == Region(0, 0, 12, 6)
    assert [(m.id, m.region) for m in layout.monitors] == [
        ("1", Region(0, 0, 8, 6)),
        ("2", Region(8, 0, 4, 4)),
    ]
    assert PortalMonitors([LEFT]).layout().monitors[0].region == Region(0, 0, 8, 6)
    with pytest.raises(CaptureError):
        portal_layout([])


def test_no_gstreamer_is_the_users_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "gi", None)  # import gi fails as if PyGObject were absent
    with pytest.raises(BackendError) as caught:
        pipewire.load_gst()
    assert caught.value.reason == "no_gstreamer"


def test_a_missing_element_is_the_users_reason() -> None:
    """Asked for an element this machine lacks (as one without gstreamer1.0-pipewire lacks
    ``pipewiresrc``). Not by patching ``Gst.ElementFactory.find``: restoring a patched GObject
    class method left PyGObject's state broken, and a later import of matplotlib's ft2font
    crashed the whole test process with a segmentation fault."""
    assert pipewire.load_gst() is not None  # PyGObject and GStreamer are installed for the tests
    with pytest.raises(BackendError) as caught:
        pipewire.load_gst((*pipewire.ELEMENTS, "veonosuchsrc"))
    assert caught.value.reason == "no_gstreamer" and "veonosuchsrc" in caught.value.detail


def test_gstreamer_leaves_later_cpp_extensions_working() -> None:
    """After GStreamer is loaded, a C++ extension that throws still works (a fresh interpreter:
    the symbol scope is per process). Without :func:`pipewire.keep_the_system_unwinder`,
    ``import matplotlib.pyplot`` after ``load_gst`` aborted with a segmentation fault: matplotlib's
    ft2font throws a C++ exception that libunwind, brought in by libgstreamer, cannot unwind."""
    import subprocess
    import sys

    script = (
        "from veo.agent.capture import pipewire; pipewire.load_gst()\n"
        "import matplotlib; matplotlib.use('Agg')\n"
        "import matplotlib.pyplot\n"
        "print('still here')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "still here" in done.stdout, done.stderr[-2000:]
