"""X11 screen capture with mss (XShm under the hood: ~0.5 ms per 1080p frame).

Captures ``monitors[0]``, the whole X screen, or a region of it (one monitor, see
:mod:`veo.agent.capture.monitors`); a pixel of the image plus the region's origin is the root
coordinate XTEST moves the pointer to.
"""

from __future__ import annotations

import mss

from veo.agent.capture.base import CaptureError, Region, ScreenCapture, Size


class MssCapture(ScreenCapture):
    def __init__(self) -> None:
        try:
            self._mss = mss.MSS()
            self._desktop = dict(self._mss.monitors[0])
        except Exception as exc:  # mss raises its own ScreenShotError and OSError variants
            raise CaptureError(f"cannot capture the screen: {exc}") from None
        self._monitor = self._desktop

    def size(self) -> Size:
        return Size(int(self._monitor["width"]), int(self._monitor["height"]))

    def set_region(self, region: Region | None) -> Size:
        """Grab ``region`` (clipped to the desktop) from the next frame on; ``None``: everything."""
        if region is None:
            self._monitor = self._desktop
            return self.size()
        desktop = Region(
            int(self._desktop["left"]),
            int(self._desktop["top"]),
            int(self._desktop["width"]),
            int(self._desktop["height"]),
        )
        inside = region.clip(desktop)
        if inside is None:
            raise CaptureError(f"the region {region} is outside the desktop {desktop}")
        self._monitor = {"left": inside.x, "top": inside.y, "width": inside.width, "height": inside.height}
        return self.size()

    def grab(self) -> bytearray:
        try:
            shot = self._mss.grab(self._monitor)
        except Exception as exc:
            raise CaptureError(f"screen grab failed: {exc}") from None
        raw: bytearray = shot.raw
        return raw

    def close(self) -> None:
        self._mss.close()
