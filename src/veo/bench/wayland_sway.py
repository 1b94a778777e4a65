"""A whole headless sway (wlroots) desktop: the Wayland desktop that has ScreenCast but no RemoteDesktop.

:class:`SwayDesktop` is :class:`veo.bench.wayland.WaylandDesktop`'s sibling for the wlroots
family: the same private session bus on a path socket, PipeWire + WirePlumber, private
``XDG_RUNTIME_DIR`` and process handling (what the bus activated is found and stopped by that
directory), but the compositor is ``sway`` on wlroots' headless backend with the pixman software
renderer (no GPU, no input devices), Xwayland started at once for veo's Tk windows, and the
portal backend is ``xdg-desktop-portal-wlr`` (ScreenCast and Screenshot only), configured to
share the one output without asking (``chooser_type=none``: it never shows a chooser; that is
xdpw's own setting, there is no dialog to answer on wlroots), under
``XDG_CURRENT_DESKTOP=sway``.

Two things of this machine shape it:

* sway refuses to run as root ("Unable to drop root ..., refusing to start"): when the caller is
  root the compositor runs as ``nobody`` (``setpriv``), owning the runtime directory; everything
  else stays the caller's. Its Xwayland then accepts only its own user, so root is let in with
  ``xhost +si:localuser:root`` (run as the compositor's user).
* xdg-desktop-portal-wlr 0.7 (Debian 12) cannot stream from this compositor: it binds
  ``zwlr_screencopy_manager_v1`` version 3 and then insists on a DMA-BUF format besides the
  shared-memory one, and wlroots sends a ``linux_dmabuf`` buffer offer only when its renderer
  can allocate DMA-BUFs (a GPU render node). With pixman it offers ``wl_shm`` alone
  (``WAYLAND_DEBUG`` shows ``buffer(1, w, h, stride)`` then ``buffer_done``), so the portal's
  ``Start`` ends with response 2 and xdpw logs "unable to receive a valid format from
  wlr_screencopy". Upstream dropped that demand after 0.7.1 (commit 2128853, 2025; with
  5598c43 and 043684a, which fix what it broke): a build of upstream f709e98 with those two
  streams this desktop's shared-memory pictures. ``portal_wlr`` takes such a build.

``python -m veo.bench.wayland_sway [--seconds N]`` starts one, prints its environment and waits.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from veo.bench.stream.procs import BenchError, Proc, wait_for
from veo.bench.wayland import DEFAULT_SIZE, PORTAL, WaylandDesktop

PORTAL_WLR = "/usr/libexec/xdg-desktop-portal-wlr"
PORTALS_DIR = "/usr/share/xdg-desktop-portal/portals"
OUTPUT = "HEADLESS-1"  # the name wlroots' headless backend gives its first output
#: what the sway stack needs on PATH (Debian: dbus, pipewire-bin, wireplumber, sway, xwayland,
#: util-linux for setpriv, x11-xserver-utils for xhost)
TOOLS = ("dbus-daemon", "dbus-send", "pipewire", "wireplumber", "pw-cli", "sway", "swaymsg", "Xwayland",
         "setpriv", "xhost")  # fmt: skip
COMPOSITOR_USER = "nobody"  # who runs sway when the caller is root
BACKGROUND = "#204080"  # the output's solid colour, so a picture of it is known
SCREEN_CAST_IFACE = "org.freedesktop.portal.ScreenCast"
#: xdpw 0.7's line when the compositor offered no DMA-BUF format for screencopy
NO_DMABUF_LOG = "unable to receive a valid format from wlr_screencopy"


def missing_tools() -> list[str]:
    """What the sway stack needs and this machine lacks (``make system-packages`` installs it)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    missing += [path for path in (PORTAL, PORTAL_WLR) if not Path(path).exists()]
    return missing


class SwayDesktop(WaylandDesktop):
    """One headless sway desktop with xdg-desktop-portal-wlr; a context manager like its sibling.

    :attr:`env` is what a program on that desktop sees: ``WAYLAND_DISPLAY`` (the socket sway
    chose), Xwayland's ``DISPLAY``, ``SWAYSOCK`` (its IPC, for ``swaymsg``), the bus, the runtime
    directory, ``XDG_SESSION_TYPE=wayland`` and ``XDG_CURRENT_DESKTOP=sway``. One output only.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        size: tuple[int, int] = DEFAULT_SIZE,
        netns: str | None = None,
        timeout: float = 60.0,
        system_portals: bool = False,
        portal_wlr: str = PORTAL_WLR,
    ) -> None:
        """As :class:`WaylandDesktop`'s; ``system_portals``: let xdg-desktop-portal see every
        backend installed on this machine instead of xdg-desktop-portal-wlr alone (see
        :meth:`_portal_dir`); ``portal_wlr``: another xdg-desktop-portal-wlr program (a newer
        build, to compare with Debian's)."""
        super().__init__(workdir=workdir, size=size, netns=netns, timeout=timeout)
        self.system_portals = system_portals
        self.portal_wlr = portal_wlr
        self.sway: Proc | None = None
        self.xdpw: Proc | None = None
        self.sway_socket = self.runtime_dir / "sway-ipc.sock"
        self._user: pwd.struct_passwd | None = None

    label = "the sway desktop"

    def __enter__(self) -> SwayDesktop:
        self.start()
        return self

    def missing_tools(self) -> list[str]:
        return missing_tools()

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(mode=0o700, exist_ok=True)
        config = self.workdir / "config"
        for sub in ("config", "cache", "data"):
            (self.workdir / sub).mkdir(exist_ok=True)
        self._write_configs(config)
        if os.geteuid() == 0:  # sway will not run as root: the compositor's user owns what it writes
            self._user = pwd.getpwnam(COMPOSITOR_USER)
            # the compositor's user must reach the runtime directory: let it through (x, not r)
            # the work directory and whichever of its parents shut others out (a test's mkdtemp)
            for directory in (self.workdir, *self.workdir.resolve().parents):
                mode = directory.stat().st_mode
                if not mode & stat.S_IXOTH:
                    directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            for path in (self.runtime_dir, config, *config.rglob("*")):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        base = {k: v for k, v in os.environ.items() if k not in _FOREIGN_SWAY}
        self.env = {
            **base,
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_CONFIG_HOME": str(config),
            "XDG_CACHE_HOME": str(self.workdir / "cache"),
            "XDG_DATA_HOME": str(self.workdir / "data"),
            "XDG_SESSION_TYPE": "wayland",
            "XDG_CURRENT_DESKTOP": "sway",
            "XDG_SESSION_DESKTOP": "sway",
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
            "SWAYSOCK": str(self.sway_socket),  # sway listens there when the path is free
            "WLR_BACKENDS": "headless",
            "WLR_RENDERER": "pixman",
            "WLR_LIBINPUT_NO_DEVICES": "1",
        }
        if not self.system_portals:
            self.env["XDG_DESKTOP_PORTAL_DIR"] = str(self._portal_dir())
        # 1. the session bus, 2. PipeWire and WirePlumber (xdpw's streams are PipeWire nodes)
        bus = self._spawn(
            "dbus-daemon", ["dbus-daemon", "--session", "--nofork", f"--address={self.bus_address}"]
        )
        wait_for("the session bus to answer", lambda: self._bus_call("GetId") is not None, self.timeout, bus)
        pipewire = self._spawn("pipewire", ["pipewire"])
        wait_for("PipeWire's socket", (self.runtime_dir / "pipewire-0").exists, self.timeout, pipewire)
        wireplumber = self._spawn("wireplumber", ["wireplumber"])
        wait_for("WirePlumber to join PipeWire", self._wireplumber_joined, self.timeout, wireplumber)
        # 3. the compositor; its config's exec line writes the sockets it chose
        self.sway = self._spawn(
            "sway", [*self._as_compositor(), "sway", "-d", "-c", str(config / "sway" / "config")]
        )
        chosen = wait_for("sway to name its sockets", self._sway_env, self.timeout, self.sway)
        self.wayland_display, self.x_display = chosen
        self.env.update({"WAYLAND_DISPLAY": self.wayland_display, "DISPLAY": self.x_display})
        wait_for("sway's IPC", self._sway_answers, self.timeout, self.sway)
        wait_for("Xwayland to let this user in", self._let_caller_into_x, self.timeout, self.sway)
        self._bus_call("UpdateActivationEnvironment", f"dict:string:string:DISPLAY,{self.x_display}")
        # 4. the portals: wlroots' backend, then the frontend
        self.xdpw = self._spawn("xdg-desktop-portal-wlr", [self.portal_wlr, "-l", "DEBUG"])
        wait_for(
            "xdg-desktop-portal-wlr on the bus",
            lambda: self._has_owner("org.freedesktop.impl.portal.desktop.wlr"),
            self.timeout,
            self.xdpw,
        )
        portal = self._spawn("xdg-desktop-portal", [PORTAL, "--verbose"])
        wait_for("the ScreenCast portal", self._screen_cast_ready, self.timeout, portal, self.xdpw)

    def _portal_dir(self) -> Path:
        """A portals directory holding only ``wlr.portal``, as on a sway computer.

        xdg-desktop-portal 1.16 falls back to *any* installed backend for an interface the
        desktop's own lacks ("Falling back to gnome.portal for ...RemoteDesktop"): on this test
        machine, which has xdg-desktop-portal-gnome for the GNOME stack, the frontend would
        export a RemoteDesktop interface backed by GNOME's portal, which cannot work without
        mutter. ``XDG_DESKTOP_PORTAL_DIR`` (the frontend's own override) keeps it to wlroots'.
        """
        portals = self.workdir / "portals"
        portals.mkdir(exist_ok=True)
        shutil.copy(Path(PORTALS_DIR) / "wlr.portal", portals / "wlr.portal")
        return portals

    def _write_configs(self, config: Path) -> None:
        width, height = self.size
        (config / "sway").mkdir(parents=True, exist_ok=True)
        env_file = self.runtime_dir / "sway-env"
        (config / "sway" / "config").write_text(
            f"output {OUTPUT} resolution {width}x{height} position 0 0 bg {BACKGROUND} solid_color\n"
            "xwayland force\n"  # Xwayland now, not at the first X client, so DISPLAY is known
            f'exec sh -c \'echo "$WAYLAND_DISPLAY $DISPLAY" > {env_file}.new'
            f" && mv {env_file}.new {env_file}'\n"
        )
        (config / "xdg-desktop-portal-wlr").mkdir(exist_ok=True)
        (config / "xdg-desktop-portal-wlr" / "config").write_text(
            f"[screencast]\nchooser_type=none\noutput_name={OUTPUT}\n"
        )

    def _as_compositor(self) -> list[str]:
        """The prefix that runs a command as the compositor's user (nothing when not root)."""
        if self._user is None:
            return []
        return ["setpriv", f"--reuid={self._user.pw_uid}", f"--regid={self._user.pw_gid}", "--clear-groups",
                "env", f"HOME={self.workdir}"]  # fmt: skip

    def _sway_env(self) -> tuple[str, str] | None:
        try:
            words = (self.runtime_dir / "sway-env").read_text().split()
        except FileNotFoundError:
            return None
        if len(words) != 2 or not (self.runtime_dir / words[0]).exists():
            return None
        if not Path(f"/tmp/.X11-unix/X{words[1].lstrip(':')}").exists():
            return None
        return words[0], words[1]

    def swaymsg(self, *args: str) -> str:
        """A sway IPC command's output (``swaymsg -t get_outputs``, ``swaymsg seat - cursor ...``)."""
        result = subprocess.run(
            self.command(["swaymsg", *args]),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            raise BenchError(f"swaymsg {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout

    def _sway_answers(self) -> bool:
        try:
            return OUTPUT in self.swaymsg("-t", "get_outputs")
        except BenchError:
            return False

    def _let_caller_into_x(self) -> bool:
        if self._user is None:
            return True
        result = subprocess.run(
            self.command([*self._as_compositor(), "xhost", "+si:localuser:root"]),
            env=self.env, capture_output=True, timeout=10, check=False,
        )  # fmt: skip
        return result.returncode == 0

    def _screen_cast_ready(self) -> bool:
        return SCREEN_CAST_IFACE in self.portal_interfaces()

    def portal_interfaces(self) -> set[str]:
        """The interfaces the portal frontend exports on this desktop's bus."""
        if not self._has_owner("org.freedesktop.portal.Desktop"):
            return set()
        result = subprocess.run(
            ["dbus-send", f"--bus={self.bus_address}", "--print-reply",
             "--dest=org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop",
             "org.freedesktop.DBus.Introspectable.Introspect"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return {line.split('"')[1] for line in result.stdout.splitlines() if "<interface name=" in line}

    def xdpw_log(self) -> str:
        """What xdg-desktop-portal-wlr logged (at debug level) so far."""
        return "" if self.xdpw is None else self.xdpw.log_path.read_text(errors="replace")


#: the caller's variables that would point children at another desktop, bus or wlroots setup
_FOREIGN_SWAY = (
    "DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XAUTHORITY", "XDG_SESSION_TYPE",
    "XDG_CURRENT_DESKTOP", "XDG_RUNTIME_DIR", "NO_AT_BRIDGE", "GDK_BACKEND", "PIPEWIRE_REMOTE",
    "SWAYSOCK", "WLR_BACKENDS", "WLR_RENDERER", "WLR_LIBINPUT_NO_DEVICES", "XDG_DESKTOP_PORTAL_DIR",
)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Start a sway desktop, print ``export`` lines for its environment, wait, stop it."""
    parser = argparse.ArgumentParser(prog="python -m veo.bench.wayland_sway", description=main.__doc__)
    parser.add_argument("--seconds", type=float, default=3600.0, help="how long to keep it running")
    parser.add_argument("--size", default="1280x720", help="the output, WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    with SwayDesktop(size=(width, height)) as desktop:
        for key in ("WAYLAND_DISPLAY", "DISPLAY", "SWAYSOCK", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR",
                    "XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP"):  # fmt: skip
            print(f"export {key}='{desktop.env[key]}'", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
