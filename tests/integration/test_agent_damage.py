"""The X damage watcher after the stream closed it (the user pressed *Stop* while a frame waited)."""

from __future__ import annotations

import shutil

import pytest
from tests.xvfb import xvfb_display

from veo.agent.damage import XDamageWatcher

pytestmark = [pytest.mark.timeout(60), pytest.mark.skipif(not shutil.which("Xvfb"), reason="needs Xvfb")]


def test_rearm_after_close_does_nothing() -> None:
    """Before the fix, rearm() sent DamageSubtract on the closed connection: ConnectionClosedError
    in aiortc's sender, whose traceback reached the user's terminal at every *Stop*."""
    with xvfb_display(size="640x480x24") as name:
        watcher = XDamageWatcher(lambda: None, name)
        watcher.rearm()  # open: empties the region
        watcher.close()
        assert not watcher.alive
        watcher.rearm()


def test_the_damage_grab_matches_a_whole_grab_even_when_drawing_races_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a real X server: after drawings (one of them between the damage being taken and the
    grab) each grab of the two-buffer capture equals mss's whole grab once drawing stopped."""
    import mss
    import numpy as np
    from Xlib import X
    from Xlib import display as xdisplay

    from veo.agent.capture import x11
    from veo.agent.damage import DamageRegions

    monkeypatch.setattr(x11, "FULL_SECONDS", 1e9)  # only the damage decides
    with xvfb_display(size="640x480x24") as name:
        monkeypatch.setenv("DISPLAY", name)
        painter = xdisplay.Display(name)
        root = painter.screen().root
        colours = iter(range(0x102030, 0xFFFFFF, 0x0F0F0F))

        def paint(x: int, y: int, w: int, h: int) -> None:
            gc = root.create_gc(foreground=next(colours), subwindow_mode=X.IncludeInferiors)
            root.fill_rectangle(gc, x, y, w, h)
            painter.sync()

        capture = x11.MssCapture()
        whole = mss.MSS()
        try:
            assert capture.grab_kept  # MIT-SHM on Xvfb: the two-buffer grab is in use
            take = DamageRegions.take
            racing: list[tuple[int, int, int, int]] = []

            def take_then_draw(self: DamageRegions) -> object:
                box = take(self)
                while racing:  # drawn after the damage was taken, before the grab
                    paint(*racing.pop())
                return box

            monkeypatch.setattr(DamageRegions, "take", take_then_draw)

            def same() -> bool:
                mine = np.frombuffer(capture.grab(), np.uint32)
                return bool((mine == np.frombuffer(whole.grab(whole.monitors[0]).raw, np.uint32)).all())

            capture.grab()
            capture.grab()  # each buffer once whole
            paint(10, 10, 50, 20)
            assert same()
            # the drawing's own rectangle grabbed and compared, not its rows across the screen
            assert capture.changed_area() == [x11.Region(10, 10, 50, 20)]
            # ...copied by the server straight into the buffer (a shared pixmap), windows included
            assert capture._frames._pixmaps is not None
            child = root.create_window(400, 300, 120, 90, 0, X.CopyFromParent, background_pixel=0x336699)
            child.map()
            painter.sync()
            assert same()
            ink = child.create_gc(foreground=0xEE8800)
            child.fill_rectangle(ink, 10, 10, 30, 20)
            painter.sync()
            assert same()
            # the fill, and the window's mapping (damaged for the grab before) around it
            assert capture.changed_area() == [x11.Region(400, 300, 120, 90)]
            assert same()  # the other buffer catches up
            assert capture.changed_area() == [x11.Region(410, 310, 30, 20)]
            paint(300, 400, 30, 30)
            racing.append((500, 50, 40, 40))  # outside the damage's rows
            capture.grab()  # took the damage, then the racing drawing came
            assert same()  # the racing drawing is damage now: in the next grab
            assert same()  # (the other buffer takes the racing drawing's rows too)
            capture.grab()
            assert capture.changed_area() == []  # still: nothing grabbed
        finally:
            capture.close()
            whole.close()
            painter.close()


def test_without_shared_pixmaps_a_rectangle_is_copied_into_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server without shared pixmaps (a GPU-backed Xorg may have none): the rectangle goes
    through the third buffer and is copied into place; each grab still equals a whole grab."""
    import mss
    import numpy as np
    from Xlib import X
    from Xlib import display as xdisplay

    from veo.agent.capture import x11

    monkeypatch.setattr(x11, "FULL_SECONDS", 1e9)
    with xvfb_display(size="640x480x24") as name:
        monkeypatch.setenv("DISPLAY", name)
        painter = xdisplay.Display(name)
        root = painter.screen().root
        capture = x11.MssCapture()
        whole = mss.MSS()
        try:
            assert capture._frames is not None
            capture._frames._pixmaps = None
            capture.grab()
            capture.grab()
            for x, y, colour in ((30, 40, 0x123456), (300, 200, 0x654321), (32, 44, 0xABCDEF)):
                gc = root.create_gc(foreground=colour, subwindow_mode=X.IncludeInferiors)
                root.fill_rectangle(gc, x, y, 40, 30)
                painter.sync()
                mine = np.frombuffer(capture.grab(), np.uint32)
                assert capture.changed_area() and all(r.width < 640 for r in capture.changed_area())
                assert (mine == np.frombuffer(whole.grab(whole.monitors[0]).raw, np.uint32)).all()
        finally:
            capture.close()
            whole.close()
            painter.close()


def test_pixmap_copies_leave_no_events_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each shared-pixmap copy is a CopyArea; with the GC's graphics exposures on (X's default)
    the server answers every one with a NoExpose event that nobody reads on mss's connection:
    ~77 bytes a copy kept for the session (10-30 MB an hour of typing at 4K)."""
    import ctypes

    from mss.linux.xcbhelpers import LIB, Connection

    from veo.agent.capture import x11

    with xvfb_display(size="640x480x24") as name:
        monkeypatch.setenv("DISPLAY", name)
        capture = x11.MssCapture()
        try:
            frames = capture._frames
            assert frames is not None and frames._pixmaps is not None
            for i in range(200):
                frames.grab_rect(i % 2, capture._monitor, x11.Region(10, 10, 40, 40))
            poll = LIB.xcb.xcb_poll_for_event
            poll.restype = ctypes.c_void_p
            poll.argtypes = [ctypes.POINTER(Connection)]
            free = ctypes.CDLL(None).free
            free.argtypes = [ctypes.c_void_p]
            queued = 0
            while event := poll(frames._conn):
                free(event)
                queued += 1
            assert queued == 0
        finally:
            capture.close()
