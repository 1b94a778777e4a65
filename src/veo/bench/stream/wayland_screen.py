"""The portal backend's screen for ``veo bench stream --backend portal``: a headless GNOME desktop.

:class:`WaylandScreen` stands where :class:`.display.Display` (Xvfb) stands for the X11 path, with
the same surface (size, the environment programs get, the person's mouse, close) plus what the
portal path adds: the agent runs with ``--backend portal`` on the desktop's session bus, and after
veo's *Allow* the person answers GNOME's own sharing dialog. The desktop is
:class:`veo.bench.wayland.WaylandDesktop` (mutter ``--headless`` with one virtual monitor of the
case's size, Xwayland, PipeWire, xdg-desktop-portal-gnome), run inside the bench's user
namespace, so the agent, the desktop and the workload share that namespace and nothing leaves it
but the session's own traffic over the bench's link.

The workload is the same Tk program as on X11, here an X11 client of mutter's Xwayland: what a
user's X11 programs are on a GNOME Wayland desktop. Its frames reach the agent the Wayland way
(mutter composites Xwayland's surface, the portal's PipeWire stream carries the picture with the
pointer drawn in), so the figures measure the portal path, not X11 capture.

The person's hands, done from outside the product (never by the agent): veo's consent is clicked
through Mutter's own RemoteDesktop API (:func:`veo.bench.wayland.click`), GNOME's dialog is
answered through its accessibility tree (:func:`veo.bench.wayland.answer_share_dialog`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from veo.bench.stream.measure import pids_in_namespace
from veo.bench.stream.procs import BenchError
from veo.bench.wayland import WaylandDesktop, answer_share_dialog, click, missing_tools

#: the variables the agent needs to find the desktop (its bus, compositor, Xwayland, runtime dir)
AGENT_VARIABLES = (
    "WAYLAND_DISPLAY", "DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR",
    "XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP", "XDG_SESSION_DESKTOP", "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME", "XDG_DATA_HOME",
)  # fmt: skip
#: where the pointer rests while measuring: off the timestamp pattern (bottom left) and off the
#: workload's scenes' busiest parts; the portal stream draws it into the picture
POINTER_REST = (0.97, 0.05)


def missing() -> str | None:
    """Why this machine cannot run the portal backend, or None."""
    tools = missing_tools()
    return f"the portal backend needs {', '.join(tools)} (run `make system-packages`)" if tools else None


class WaylandScreen:
    """A headless GNOME Wayland desktop of ``width``×``height`` inside ``netns``."""

    backend = "portal"

    def __init__(self, netns: str, workdir: Path, width: int, height: int) -> None:
        self.width, self.height = width, height
        # a directory of its own per screen: the next run's desktop of the same size must not
        # find this one's Xwayland authority file (mutter names it afresh; the stack takes the
        # first it finds, and a stale cookie is refused: "Invalid MIT-MAGIC-COOKIE-1 key")
        self.desktop = WaylandDesktop(
            workdir=Path(tempfile.mkdtemp(prefix=f"wayland-{width}x{height}-", dir=workdir)),
            size=(width, height),
            netns=netns,
            wayland_display=f"veo-bench-{width}x{height}",
        )
        self._at: tuple[int, int] = (0, 0)
        self._netns_inode = os.stat(f"/run/netns/{netns}").st_ino
        self.desktop.start()
        self.name = self.desktop.x_display

    def env(self) -> dict[str, str]:
        """What a program on this desktop sees (the workload: an X11 client of Xwayland)."""
        return dict(self.desktop.env)

    def agent_env(self) -> dict[str, str]:
        """The desktop part of the agent's environment (the rest is the bench's, minus VEO_*)."""
        return {key: self.desktop.env[key] for key in AGENT_VARIABLES if key in self.desktop.env}

    def agent_args(self) -> list[str]:
        return ["--backend", "portal"]

    def point(self, x: int, y: int) -> None:
        """Remember where the next :meth:`click` lands (Mutter's API moves and clicks in one go)."""
        self._at = (x, y)

    def click(self) -> None:
        """The person's left click where :meth:`point` said, through the compositor's input."""
        click(self.desktop.env, *self._at)

    def after_allow(self, control: bool) -> None:
        """GNOME asks a second time: the person chooses *Share* (the switch on if ``control``),
        then moves the mouse out of the way, as the picture carries the pointer."""
        try:
            answer_share_dialog(self.desktop.env, allow_control=control, timeout=60)
        except BenchError as exc:
            raise BenchError(f"GNOME's sharing dialog: {exc}\n{self.desktop.logs()[-3000:]}") from exc

    def rest_pointer(self) -> None:
        """The pointer to a corner away from the pattern (a click there lands on the workload's
        background, which ignores it)."""
        click(self.desktop.env, int(self.width * POINTER_REST[0]), int(self.height * POINTER_REST[1]))

    def server_pids(self) -> list[int]:
        """mutter (its tree holds Xwayland), PipeWire and WirePlumber: the work of compositing
        and streaming the picture that happens outside the agent on Wayland. Only this desktop
        runs PipeWire in the bench's user namespace."""
        mutter = self.desktop.mutter
        pids = [mutter.pid] if mutter is not None and mutter.running() else []
        for name in ("pipewire", "wireplumber"):
            pids += pids_in_namespace(self._netns_inode, name)
        return pids

    def close(self) -> None:
        self.desktop.stop()
