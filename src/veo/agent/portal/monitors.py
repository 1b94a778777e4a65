"""The user's monitors on Wayland: the streams the desktop's portal shared, one per monitor.

On X11 the monitors are read from RandR; on Wayland a program cannot ask the compositor, but
the ScreenCast portal says where each shared monitor sits and how large it is. The layout is
built by the same :func:`~veo.agent.capture.monitors.build_layout` as on X11 (left to right,
numbered from 1, clipped to the desktop), so the console's monitor picker works unchanged.
Only the monitors the user shared in the desktop's dialog are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from veo.agent.capture.base import CaptureError, Region
from veo.agent.capture.monitors import Layout, RawMonitor, build_layout
from veo.agent.desktop import DesktopMonitors, StreamInfo


def portal_layout(streams: Sequence[StreamInfo]) -> Layout:
    """The desktop (from the origin to the farthest monitors' edges) and one monitor per stream.

    The origin is the portal's (0, 0), the coordinates input is sent in. The portal names no
    monitor and says nothing of which is primary: the console shows the numbers.
    """
    if not streams:
        raise CaptureError("the desktop shared no screen")
    desktop = Region(
        0,
        0,
        max(s.x + s.width for s in streams),
        max(s.y + s.height for s in streams),
    )
    raw = [RawMonitor(name=s.name, x=s.x, y=s.y, width=s.width, height=s.height) for s in streams]
    return build_layout(desktop, raw)


class PortalMonitors(DesktopMonitors):
    """Lists the shared monitors; ``streams`` is the grant's list, or a callable giving the
    current one (``PipeWireCapture.current_streams``: a monitor resized since the dialog)."""

    def __init__(self, streams: Sequence[StreamInfo] | Callable[[], Sequence[StreamInfo]]) -> None:
        self._streams = streams

    def layout(self) -> Layout:
        streams = self._streams() if callable(self._streams) else self._streams
        return portal_layout(streams)

    def close(self) -> None:
        """Nothing to release: the portal session belongs to the desktop."""
