"""The user's monitors: where each one sits on the X desktop, so the console can show one of them.

On X11 all monitors are parts of one root window (the desktop); a monitor is a rectangle of it.
RandR 1.5 *monitors* are the authoritative list: they are what desktops and ``xrandr
--setmonitor`` define (one output each, or a split of one big output), with their names and the
primary flag. Servers without RandR 1.5 (or a broken one) fall back to mss's list, which reads
the same information through Xinerama/RandR itself.

Everything here runs in one worker thread that owns its X connection (python-xlib connections
are not thread-safe); :func:`parse_randr` and :func:`parse_mss` are pure, so the ordering,
clipping and naming rules are unit-tested without a display.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from veo.agent.capture.base import CaptureError, Region

log = logging.getLogger(__name__)

#: The protocol's limits (``veo.protocol.monitors``): ids and names longer than this are cut.
MAX_MONITORS = 16
MAX_NAME = 80


@dataclass(frozen=True)
class Monitor:
    """One monitor: ``id`` is its 1-based position from left to right (what the console shows)."""

    id: str
    name: str
    region: Region
    primary: bool = False


@dataclass(frozen=True)
class Layout:
    """The whole desktop and the monitors on it (left to right, then top to bottom)."""

    desktop: Region
    monitors: tuple[Monitor, ...]

    def find(self, monitor_id: str) -> Monitor | None:
        return next((m for m in self.monitors if m.id == monitor_id), None)


@dataclass(frozen=True)
class RawMonitor:
    """A monitor as a source reports it, before ordering, clipping and numbering."""

    name: str
    x: int
    y: int
    width: int
    height: int
    primary: bool = False


def build_layout(desktop: Region, raw: Iterable[RawMonitor]) -> Layout:
    """Order monitors left to right, clip them to the desktop, drop empty and duplicate ones.

    A monitor that lies outside the desktop cannot be captured; a duplicate (mirrored outputs)
    would only be two entries showing the same thing.
    """
    kept: dict[Region, RawMonitor] = {}
    for item in sorted(raw, key=lambda m: (m.x, m.y, -m.primary)):
        region = Region(item.x, item.y, item.width, item.height).clip(desktop)
        if region is not None and region not in kept:
            kept[region] = item
    monitors = tuple(
        Monitor(str(number), item.name[:MAX_NAME], region, item.primary)
        for number, (region, item) in enumerate(list(kept.items())[:MAX_MONITORS], start=1)
    )
    return Layout(desktop, monitors)


def parse_randr(
    desktop: Region, monitors: Sequence[Mapping[str, Any]], atom_name: Callable[[int], str]
) -> Layout:
    """A layout from RandR 1.5 ``GetMonitors`` replies (python-xlib's ``DictWrapper`` items)."""
    raw = []
    for item in monitors:
        try:
            name = atom_name(int(item["name"]))
        except Exception:  # a vanished atom only costs the name
            name = ""
        raw.append(
            RawMonitor(
                name=name,
                x=int(item["x"]),
                y=int(item["y"]),
                width=int(item["width_in_pixels"]),
                height=int(item["height_in_pixels"]),
                primary=bool(item["primary"]),
            )
        )
    return build_layout(desktop, raw)


def parse_mss(monitors: Sequence[Mapping[str, Any]]) -> Layout:
    """A layout from ``mss.MSS().monitors`` (item 0 is the whole desktop, the rest the monitors)."""
    if not monitors:
        raise CaptureError("no screen to list monitors of")
    whole = monitors[0]
    desktop = Region(int(whole["left"]), int(whole["top"]), int(whole["width"]), int(whole["height"]))
    raw = [
        RawMonitor(
            name=str(item.get("output") or item.get("name") or ""),
            x=int(item["left"]),
            y=int(item["top"]),
            width=int(item["width"]),
            height=int(item["height"]),
            primary=bool(item.get("is_primary", False)),
        )
        for item in monitors[1:]
    ]
    return build_layout(desktop, raw)


class MonitorLister:
    """Lists the monitors of ``$DISPLAY`` on demand; create, use and close it in ONE thread.

    The X connection is kept between calls (the session re-lists every few seconds to notice a
    monitor plugged in or removed) and re-opened after an error.
    """

    def __init__(self, display_name: str | None = None) -> None:
        self._display_name = display_name
        self._display: Any = None
        self._randr = True

    def _connection(self) -> Any:
        if self._display is None:
            from Xlib import display

            self._display = display.Display(self._display_name)
            self._randr = bool(self._display.has_extension("RANDR"))
        return self._display

    def _from_randr(self) -> Layout | None:
        from Xlib.ext import randr

        conn = self._connection()
        if not self._randr:
            return None
        root = conn.screen().root
        version = randr.query_version(conn)
        if (int(version.major_version), int(version.minor_version)) < (1, 5):
            self._randr = False
            return None
        geometry = root.get_geometry()  # fresh: the connection's screen info is from its setup
        desktop = Region(0, 0, int(geometry.width), int(geometry.height))
        reply = randr.get_monitors(root, True)
        return parse_randr(desktop, reply.monitors, conn.get_atom_name)

    def _from_mss(self) -> Layout:
        import mss

        with mss.MSS(display=self._display_name) if self._display_name else mss.MSS() as grabber:
            return parse_mss(grabber.monitors)

    def layout(self) -> Layout:
        """The current desktop and monitors (RandR 1.5, else mss); raises :class:`CaptureError`."""
        try:
            found = self._from_randr()
        except Exception as exc:  # Xlib raises many kinds; the fallback still works
            log.info("RandR monitors unavailable (%s): asking mss", exc)
            self.close()
            self._randr = False
            found = None
        if found is not None and found.monitors:
            return found
        try:
            return self._from_mss()
        except CaptureError:
            raise
        except Exception as exc:
            raise CaptureError(f"cannot list the monitors: {exc}") from None

    def close(self) -> None:
        if self._display is not None:
            try:
                self._display.close()
            except Exception:
                log.debug("closing the X connection failed", exc_info=True)
            self._display = None
