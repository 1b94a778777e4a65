"""A whole headless GNOME-on-Wayland desktop for a test or a benchmark, and the person at it.

:class:`WaylandDesktop` starts what a GNOME session gives the agent on a Wayland computer, with no
GPU and no screen: its own session D-Bus, PipeWire + WirePlumber, ``mutter --headless`` with
virtual monitors and Xwayland (for the agent's Tk windows), xdg-desktop-portal-gnome and
xdg-desktop-portal. Everything lives under a private ``XDG_RUNTIME_DIR`` in a temporary directory,
so several desktops (tests running side by side, a lead's spike) never share a socket, and
:meth:`WaylandDesktop.stop` leaves nothing running. Every socket is a path socket (D-Bus with
``unix:path=``, Wayland, PipeWire and X in files), so a client in another network namespace
reaches them the same way; ``netns`` runs the desktop itself inside one.

What a person at that computer does, done from outside the product (test side only, never
in the shipped agent):

* :func:`answer_share_dialog` answers GNOME's own sharing dialog ("Remote desktop", or the
  screen-only "Screen Share" one) through its
  accessibility tree (AT-SPI), the way a screen reader user would: it toggles the "Allow remote
  interaction" switch if asked and presses *Share* (or *Cancel*). What this proves and does not:
  the dialog really appeared, on the real portal, and what was chosen in it is what the portal
  returned; it does not prove that a pointer click on the dialog's pixels works (AT-SPI actions
  go to the widget directly).
* :func:`click` is the person's mouse: a left click through Mutter's own RemoteDesktop API.
* :func:`screenshot` takes a PNG of the monitor through Mutter's own ``org.gnome.Mutter.ScreenCast``
  API (no portal, no dialog), to look at the screen when a test fails or to check a picture.

The keyboard: mutter alone keeps its built-in US layout (on a real GNOME desktop gnome-shell
applies the user's input sources; nothing here does), so a keysym with no key on a US keyboard
(é, ñ) is dropped by mutter ("No keycode found for keyval") when sent as such through the portal.

``python -m veo.bench.wayland [--seconds N]`` starts one, prints its environment and waits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from veo.bench.stream.procs import BenchError, Proc, Processes, wait_for

T = TypeVar("T")

PORTAL_GNOME = "/usr/libexec/xdg-desktop-portal-gnome"
PORTAL = "/usr/libexec/xdg-desktop-portal"
X11_SOCKETS = Path("/tmp/.X11-unix")
DEFAULT_SIZE = (1280, 720)
DEFAULT_WAYLAND_DISPLAY = "veo-wayland"
#: what the stack needs on PATH (Debian packages: dbus, pipewire-bin, wireplumber, mutter, xwayland)
TOOLS = ("dbus-daemon", "dbus-send", "pipewire", "wireplumber", "pw-cli", "mutter", "Xwayland")
#: variables of the caller that would point children at another desktop or bus
_FOREIGN = (
    "DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XAUTHORITY", "XDG_SESSION_TYPE",
    "XDG_CURRENT_DESKTOP", "XDG_RUNTIME_DIR", "NO_AT_BRIDGE", "GDK_BACKEND", "PIPEWIRE_REMOTE",
)  # fmt: skip
_X_DISPLAY = re.compile(r"Using public X11 display (:\d+)")

# GNOME's dialog (xdg-desktop-portal-gnome 43) as its accessibility tree names it.
SWITCH_NAME = "Allow remote interaction"
SHARE_LABEL = "Share"
CANCEL_LABEL = "Cancel"
ATSPI_ROOT = ("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")
ACCESSIBLE = "org.a11y.atspi.Accessible"
ACTION = "org.a11y.atspi.Action"
LEFT_BUTTON = 0x110  # evdev BTN_LEFT
STATE_CHECKED = 4  # AT-SPI StateType ATSPI_STATE_CHECKED (a switch that is on)


def missing_tools() -> list[str]:
    """What the stack needs and this machine lacks (``make system-packages`` installs it)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    missing += [path for path in (PORTAL, PORTAL_GNOME) if not Path(path).exists()]
    return missing


def ensure_x11_socket_dir() -> None:
    """``/tmp/.X11-unix`` must be world-writable and sticky (1777): mutter refuses to start
    Xwayland otherwise ("Failed to start X Wayland: Directory not writable"), and some
    containers create it 1755."""
    X11_SOCKETS.mkdir(mode=0o1777, exist_ok=True)
    mode = stat.S_IMODE(X11_SOCKETS.stat().st_mode)
    if mode != 0o1777:
        try:
            X11_SOCKETS.chmod(0o1777)
        except PermissionError as exc:
            raise BenchError(f"{X11_SOCKETS} is {mode:o}, Xwayland needs 1777 (run as root once)") from exc


class WaylandDesktop:
    """One headless GNOME Wayland desktop; use as a context manager or call start()/stop().

    :attr:`env` is what a program on that desktop sees (the caller's environment with
    ``WAYLAND_DISPLAY``, Xwayland's ``DISPLAY`` + ``XAUTHORITY``, ``DBUS_SESSION_BUS_ADDRESS``,
    ``XDG_RUNTIME_DIR``, ``XDG_SESSION_TYPE=wayland``, ``XDG_CURRENT_DESKTOP=GNOME``).
    """

    def __init__(
        self,
        workdir: Path | None = None,
        size: tuple[int, int] = DEFAULT_SIZE,
        more_monitors: Sequence[tuple[int, int]] = (),
        netns: str | None = None,
        wayland_display: str = DEFAULT_WAYLAND_DISPLAY,
        timeout: float = 60.0,
    ) -> None:
        """``workdir``: where the runtime directory and the logs go (a new temporary directory,
        removed on stop, when None); ``size``: the first virtual monitor, ``more_monitors`` the
        others (side by side, left to right, as mutter places them); ``netns``: the name of a
        network namespace (``ip netns``) to run every process of the desktop in."""
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="veo-wayland-")) if workdir is None else workdir
        self.size = size
        self.monitors = [size, *more_monitors]
        self.netns = netns
        self.wayland_display = wayland_display
        self.timeout = timeout
        self.runtime_dir = self.workdir / "run"
        self.bus_address = f"unix:path={self.runtime_dir / 'bus'}"
        self.x_display = ""
        self.env: dict[str, str] = {}
        self.procs = Processes(self.workdir)
        self.mutter: Proc | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> WaylandDesktop:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    #: what the missing-tools error calls this desktop
    label = "the Wayland desktop"

    def missing_tools(self) -> list[str]:
        """What this desktop needs and the machine lacks (a compositor's own list in subclasses)."""
        return missing_tools()

    def start(self) -> WaylandDesktop:
        """Start every part in order, each awaited until it answers; on failure stop what ran."""
        missing = self.missing_tools()
        if missing:
            raise BenchError(f"{self.label} needs {', '.join(missing)} (run `make system-packages`)")
        ensure_x11_socket_dir()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(mode=0o700, exist_ok=True)
        for sub in ("config", "cache", "data"):
            (self.workdir / sub).mkdir(exist_ok=True)
        base = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
        self.env = {
            **base,
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            # mutter, dconf and the portals keep settings and state here, not in the caller's home
            "XDG_CONFIG_HOME": str(self.workdir / "config"),
            "XDG_CACHE_HOME": str(self.workdir / "cache"),
            "XDG_DATA_HOME": str(self.workdir / "data"),
            "XDG_SESSION_TYPE": "wayland",
            "XDG_CURRENT_DESKTOP": "GNOME",
            "XDG_SESSION_DESKTOP": "gnome",
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
            "WAYLAND_DISPLAY": self.wayland_display,
        }
        # 1. the session bus; services it activates (the accessibility bus, the document portal)
        #    inherit its environment, so XDG_RUNTIME_DIR keeps their sockets in ours too
        bus = self._spawn(
            "dbus-daemon", ["dbus-daemon", "--session", "--nofork", f"--address={self.bus_address}"]
        )
        wait_for("the session bus to answer", lambda: self._bus_call("GetId") is not None, self.timeout, bus)
        # 2. PipeWire and its session manager (mutter's screen-cast streams are PipeWire nodes)
        pipewire = self._spawn("pipewire", ["pipewire"])
        wait_for("PipeWire's socket", (self.runtime_dir / "pipewire-0").exists, self.timeout, pipewire)
        wireplumber = self._spawn("wireplumber", ["wireplumber"])
        wait_for("WirePlumber to join PipeWire", self._wireplumber_joined, self.timeout, wireplumber)
        # 3. the compositor, headless, with one virtual monitor and Xwayland
        monitors = [arg for w, h in self.monitors for arg in ("--virtual-monitor", f"{w}x{h}")]
        self.mutter = self._spawn(
            "mutter",
            ["mutter", "--headless", *monitors, "--wayland", "--wayland-display", self.wayland_display],
        )
        wait_for(
            "mutter's Wayland socket",
            (self.runtime_dir / self.wayland_display).exists,
            self.timeout,
            self.mutter,
        )
        self.x_display = wait_for(
            "mutter to name its Xwayland display", self._logged_x_display, self.timeout, self.mutter
        )
        xauthority = wait_for("Xwayland's authority file", self._xauthority, self.timeout, self.mutter)
        self.env.update({"DISPLAY": self.x_display, "XAUTHORITY": str(xauthority)})
        wait_for(
            "mutter's ScreenCast and RemoteDesktop on the bus", self._mutter_on_bus, self.timeout, self.mutter
        )
        # services the bus starts from now on (the accessibility bus) see the X display too
        self._bus_call(
            "UpdateActivationEnvironment",
            f"dict:string:string:DISPLAY,{self.x_display},XAUTHORITY,{xauthority}",
        )
        # 4. the portals: GNOME's backend (its dialogs are GTK on Wayland), then the frontend
        gnome = self._spawn("xdg-desktop-portal-gnome", [PORTAL_GNOME])
        wait_for(
            "xdg-desktop-portal-gnome on the bus",
            lambda: self._has_owner("org.freedesktop.impl.portal.desktop.gnome"),
            self.timeout,
            gnome,
        )
        portal = self._spawn("xdg-desktop-portal", [PORTAL, "--verbose"])
        wait_for("the RemoteDesktop portal", self._portal_ready, self.timeout, portal, gnome)

    def stop(self) -> None:
        """Stop every process (newest first), then anything still running with our runtime
        directory in its environment (what the bus activated), then remove the temporary files."""
        self.procs.stop_all()
        if self.runtime_dir.exists():
            _kill_stragglers(str(self.runtime_dir))
            doc = self.runtime_dir / "doc"  # xdg-document-portal's FUSE mount, if it was made here
            # no exists() test first: on a mount whose daemon is already gone Path.exists raises
            # ENOTCONN ("Transport endpoint is not connected"), and that mount most needs the
            # lazy unmount; where nothing is mounted fusermount3 just fails quietly
            if shutil.which("fusermount3"):
                subprocess.run(["fusermount3", "-u", "-z", str(doc)], capture_output=True, check=False)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ helpers

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as run on this desktop (inside its network namespace, if any)."""
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)

    def _spawn(self, name: str, argv: Sequence[str]) -> Proc:
        return self.procs.start(name, self.command(argv), env=self.env)

    def _bus_call(self, method: str, *args: str) -> str | None:
        result = subprocess.run(
            ["dbus-send", f"--bus={self.bus_address}", "--print-reply", "--dest=org.freedesktop.DBus",
             "/org/freedesktop/DBus", f"org.freedesktop.DBus.{method}", *args],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return result.stdout if result.returncode == 0 else None

    def _has_owner(self, name: str) -> bool:
        reply = self._bus_call("NameHasOwner", f"string:{name}")
        return reply is not None and "boolean true" in reply

    def _wireplumber_joined(self) -> bool:
        result = subprocess.run(
            ["pw-cli", "ls", "Client"], env=self.env, capture_output=True, text=True, timeout=10, check=False
        )
        return '"WirePlumber"' in result.stdout

    def _logged_x_display(self) -> str | None:
        assert self.mutter is not None
        try:
            match = _X_DISPLAY.search(self.mutter.log_path.read_text(errors="replace"))
        except FileNotFoundError:
            return None
        if match is None or not (X11_SOCKETS / f"X{match.group(1)[1:]}").exists():
            return None
        return match.group(1)

    def _xauthority(self) -> Path | None:
        found = sorted(self.runtime_dir.glob(".mutter-Xwaylandauth.*"))
        return found[0] if found and found[0].stat().st_size > 0 else None

    def _mutter_on_bus(self) -> bool:
        return self._has_owner("org.gnome.Mutter.ScreenCast") and self._has_owner(
            "org.gnome.Mutter.RemoteDesktop"
        )

    def _portal_ready(self) -> bool:
        if not self._has_owner("org.freedesktop.portal.Desktop"):
            return False
        result = subprocess.run(
            ["dbus-send", f"--bus={self.bus_address}", "--print-reply",
             "--dest=org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop",
             "org.freedesktop.DBus.Introspectable.Introspect"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return "org.freedesktop.portal.RemoteDesktop" in result.stdout

    def logs(self) -> str:
        """The tail of every part's log, for a failure message."""
        parts = []
        for log in sorted(self.workdir.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-30:]
            parts.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(parts)


def _kill_stragglers(runtime_dir: str) -> None:
    """SIGKILL every process whose environment names our runtime directory: the services the
    session bus activated (accessibility bus, document and permission portals) run in their own
    process groups, so stopping the ones we started does not reach them. Only our own desktop's
    processes carry this directory (a fresh temporary one)."""
    needle = f"XDG_RUNTIME_DIR={runtime_dir}".encode()
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


# ---------------------------------------------------------------------------- the person at it


def _run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a thread of its own: callers may already have an event
    loop on theirs (Playwright's sync API keeps one on the main thread)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make())
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="veo-wayland-dbus", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


class _Atspi:
    """A few AT-SPI calls over the accessibility bus (dbus-fast, no pyatspi needed)."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus

    async def call(
        self, dest: str, path: str, iface: str, member: str, sig: str = "", body: Sequence[Any] = ()
    ) -> list[Any]:
        from dbus_fast import Message, MessageType

        reply = await self.bus.call(
            Message(
                destination=dest, path=path, interface=iface, member=member, signature=sig, body=list(body)
            )
        )
        if reply.message_type == MessageType.ERROR:
            raise BenchError(f"AT-SPI {iface}.{member} on {dest}{path}: {reply.error_name} {reply.body}")
        result: list[Any] = reply.body
        return result

    async def prop(self, dest: str, path: str, iface: str, name: str) -> Any:
        return (await self.call(dest, path, "org.freedesktop.DBus.Properties", "Get", "ss", [iface, name]))[
            0
        ].value

    async def nodes(self) -> list[tuple[str, str, str, str]]:
        """Every accessible of every application: (role, name, bus name, path)."""
        found: list[tuple[str, str, str, str]] = []

        async def walk(dest: str, path: str, depth: int) -> None:
            if depth > 40:
                return
            try:
                name = str(await self.prop(dest, path, ACCESSIBLE, "Name"))
                role = str((await self.call(dest, path, ACCESSIBLE, "GetRoleName"))[0])
                children = (await self.call(dest, path, ACCESSIBLE, "GetChildren"))[0]
            except BenchError:
                return  # a node that went away while we walked (a window closing)
            found.append((role, name, dest, path))
            for child_dest, child_path in children:
                await walk(child_dest, child_path, depth + 1)

        for dest, path in (await self.call(*ATSPI_ROOT, ACCESSIBLE, "GetChildren"))[0]:
            await walk(dest, path, 0)
        return found

    async def checked(self, dest: str, path: str) -> bool:
        words = (await self.call(dest, path, ACCESSIBLE, "GetState"))[0]
        return bool(words[STATE_CHECKED // 32] & (1 << (STATE_CHECKED % 32)))

    async def do_action(self, dest: str, path: str) -> None:
        if not (await self.call(dest, path, ACTION, "DoAction", "i", [0]))[0]:
            raise BenchError(f"AT-SPI DoAction(0) on {path} returned false")


async def _connect_a11y(env: Mapping[str, str]) -> tuple[Any, Any]:
    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

    session = await MessageBus(bus_address=env["DBUS_SESSION_BUS_ADDRESS"]).connect()
    reply = await session.call(
        Message(
            destination="org.a11y.Bus", path="/org/a11y/bus", interface="org.a11y.Bus", member="GetAddress"
        )
    )
    a11y = await MessageBus(bus_address=reply.body[0]).connect()
    return session, a11y


def _button(nodes: list[tuple[str, str, str, str]], label: str) -> tuple[str, str] | None:
    """GTK 4 names the dialog's buttons by mnemonic and label ("_Share Share")."""
    for role, name, dest, path in nodes:
        if role in ("button", "push button") and label in name.replace("_", " ").split():
            return dest, path
    return None


async def answer_share_dialog_async(
    env: Mapping[str, str], allow_control: bool, cancel: bool = False, within: float = 30.0
) -> str:
    """Wait for GNOME's sharing dialog, then answer it as the person at the computer: "Allow
    remote interaction" on (``allow_control``) or left off (its default), then *Share*, or
    *Cancel* when ``cancel``; returns once the dialog is gone. Which dialog it was comes back:
    ``"remote_desktop"`` (with the switch: a RemoteDesktop session) or ``"screen_cast"`` (no
    switch: a screen-only ScreenCast session). Raises :class:`BenchError` if no dialog shows
    in time, or when control is to be allowed and the dialog offers no switch."""
    session, a11y = await _connect_a11y(env)
    try:
        atspi = _Atspi(a11y)
        deadline = time.monotonic() + within
        while True:
            nodes = await atspi.nodes()
            switch = _switch(nodes)
            button = _button(nodes, CANCEL_LABEL if cancel else SHARE_LABEL)
            # the switch may join the tree a moment after the buttons: wait for it when it matters
            if button is not None and (switch is not None or not allow_control or cancel):
                break
            if time.monotonic() > deadline:
                seen = sorted({(r, n) for r, n, _d, _p in nodes if n})[:40]
                missing = "its 'Allow remote interaction' switch" if button is not None else "it"
                raise BenchError(
                    f"GNOME's sharing dialog: {missing} did not appear in {within:.0f} s; seen {seen}"
                )
            await asyncio.sleep(0.2)
        kind = "remote_desktop" if switch is not None else "screen_cast"
        if switch is not None and not cancel and allow_control != await atspi.checked(*switch):
            await atspi.do_action(*switch)
            await _until(lambda: atspi.checked(*switch), allow_control, 5.0, "the switch to change")
        await atspi.do_action(*button)

        async def gone() -> bool:
            return _button(await atspi.nodes(), CANCEL_LABEL if cancel else SHARE_LABEL) is None

        await _until(gone, True, 10.0, "the sharing dialog to close")
        return kind
    finally:
        a11y.disconnect()
        session.disconnect()


def _switch(nodes: list[tuple[str, str, str, str]]) -> tuple[str, str] | None:
    return next(((d, p) for r, n, d, p in nodes if r == "switch" and n == SWITCH_NAME), None)


async def _until(probe: Callable[[], Awaitable[bool]], want: bool, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while await probe() != want:
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


def answer_share_dialog(
    env: Mapping[str, str], allow_control: bool, cancel: bool = False, timeout: float = 30.0
) -> str:
    """:func:`answer_share_dialog_async` for synchronous callers (any thread)."""
    return _run_async(lambda: answer_share_dialog_async(env, allow_control, cancel, within=timeout))


async def dialog_open_async(env: Mapping[str, str]) -> bool:
    """Whether one of GNOME's sharing dialogs (Remote desktop, Screen share) is showing now."""
    session, a11y = await _connect_a11y(env)
    try:
        nodes = await _Atspi(a11y).nodes()
    finally:
        a11y.disconnect()
        session.disconnect()
    return _button(nodes, SHARE_LABEL) is not None


def dialog_open(env: Mapping[str, str]) -> bool:
    """:func:`dialog_open_async` for synchronous callers."""
    return _run_async(lambda: dialog_open_async(env))


# ---------------------------------------------------------------------------- the person's mouse


async def click_async(env: Mapping[str, str], x: float, y: float) -> None:
    """The person's left click at monitor point (``x``, ``y``), through Mutter's own
    ``org.gnome.Mutter.RemoteDesktop`` API: the compositor's input path, as a real mouse (the
    compositor picks the window under it: a Wayland one, or an X one through Xwayland). A session
    of its own per click, closed after it; no portal, no dialog."""
    from dbus_fast import Variant
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=env["DBUS_SESSION_BUS_ADDRESS"]).connect()
    try:

        async def interface(name: str, path: str, iface: str) -> Any:
            proxy = bus.get_proxy_object(name, path, await bus.introspect(name, path))
            return proxy.get_interface(iface)

        rd, sc = "org.gnome.Mutter.RemoteDesktop", "org.gnome.Mutter.ScreenCast"
        remote = await interface(rd, "/org/gnome/Mutter/RemoteDesktop", rd)
        session = await interface(rd, await remote.call_create_session(), f"{rd}.Session")
        cast = await interface(sc, "/org/gnome/Mutter/ScreenCast", sc)
        linked = {"remote-desktop-session-id": Variant("s", await session.get_session_id())}
        cast_session = await interface(sc, await cast.call_create_session(linked), f"{sc}.Session")
        stream = await cast_session.call_record_monitor("", {})
        await session.call_start()
        try:
            await session.call_notify_pointer_motion_absolute(stream, float(x), float(y))
            await asyncio.sleep(0.15)
            await session.call_notify_pointer_button(LEFT_BUTTON, True)
            await asyncio.sleep(0.05)
            await session.call_notify_pointer_button(LEFT_BUTTON, False)
            await asyncio.sleep(0.15)
        finally:
            with contextlib.suppress(Exception):
                await session.call_stop()
    finally:
        bus.disconnect()


def click(env: Mapping[str, str], x: float, y: float) -> None:
    """:func:`click_async` for synchronous callers (any thread)."""
    _run_async(lambda: click_async(env, x, y))


# ---------------------------------------------------------------------------- looking at it


async def screenshot_async(
    env: Mapping[str, str], path: Path, cursor: bool = False, within: float = 20.0
) -> Path:
    """A PNG of the (first) monitor through ``org.gnome.Mutter.ScreenCast``: a recording session
    of Mutter's own, read by ``gst-launch-1.0 pipewiresrc``; ``cursor`` puts the pointer in."""
    from dbus_fast import Variant
    from dbus_fast.aio import MessageBus

    name = "org.gnome.Mutter.ScreenCast"
    bus = await MessageBus(bus_address=env["DBUS_SESSION_BUS_ADDRESS"]).connect()
    try:

        async def interface(object_path: str, iface: str) -> Any:
            proxy = bus.get_proxy_object(name, object_path, await bus.introspect(name, object_path))
            return proxy.get_interface(iface)

        screencast = await interface("/org/gnome/Mutter/ScreenCast", name)
        session_path = await screencast.call_create_session({})
        session = await interface(session_path, f"{name}.Session")
        stream_path = await session.call_record_monitor("", {"cursor-mode": Variant("u", 1 if cursor else 0)})
        stream = await interface(stream_path, f"{name}.Stream")
        node: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def added(node_id: int) -> None:
            if not node.done():
                node.set_result(int(node_id))

        stream.on_pipe_wire_stream_added(added)
        await session.call_start()
        try:
            node_id = await asyncio.wait_for(node, within)
            process = await asyncio.create_subprocess_exec(
                "gst-launch-1.0", "-q", "pipewiresrc", f"path={node_id}", "num-buffers=3", "!",
                "videoconvert", "!", "pngenc", "snapshot=true", "!", "filesink", f"location={path}",
                env=dict(env), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            try:
                out, _ = await asyncio.wait_for(process.communicate(), within)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise BenchError(f"gst-launch-1.0 gave no picture in {within:.0f} s") from None
            if process.returncode != 0 or not out_exists(path):
                raise BenchError(
                    f"gst-launch-1.0 failed (rc={process.returncode}): {out.decode(errors='replace')}"
                )
        finally:
            with contextlib.suppress(Exception):
                await session.call_stop()
    finally:
        bus.disconnect()
    return path


def out_exists(path: Path) -> bool:
    """Whether gst-launch wrote the picture (a file test, kept out of the coroutine's body)."""
    return path.exists() and path.stat().st_size > 0


def screenshot(env: Mapping[str, str], path: Path, cursor: bool = False, timeout: float = 20.0) -> Path:
    """:func:`screenshot_async` for synchronous callers (any thread)."""
    return _run_async(lambda: screenshot_async(env, path, cursor, within=timeout))


def main(argv: Sequence[str] | None = None) -> int:
    """Start a desktop, print ``export`` lines for its environment, wait, stop it."""
    parser = argparse.ArgumentParser(prog="python -m veo.bench.wayland", description=main.__doc__)
    parser.add_argument("--seconds", type=float, default=3600.0, help="how long to keep it running")
    parser.add_argument("--size", default="1280x720", help="the virtual monitor, WIDTHxHEIGHT")
    parser.add_argument("--netns", default=None, help="run it inside this network namespace")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    with WaylandDesktop(size=(width, height), netns=args.netns) as desktop:
        for key in ("WAYLAND_DISPLAY", "DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR",
                    "XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP"):  # fmt: skip
            print(f"export {key}='{desktop.env[key]}'", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
