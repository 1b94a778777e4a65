"""The references: VNC servers (Debian's) on the same display, viewed in noVNC through websockify.

Three servers, each run beside veo in the same run (issue 18, point 5):

* ``x11vnc`` (system ``vnc``): x11vnc at its defaults, with only what running unattended and
  view-only needs: ``-localhost`` (websockify beside it is the only client), ``-shared -forever``,
  ``-nopw``, ``-viewonly``, ``-quiet``;
* ``x11vnc-tuned`` (system ``vnc-tuned``): the same with ``-defer 0 -wait 5``, x11vnc tuned for
  latency (its defaults wait ~20 ms twice before a sparse update goes out);
* ``x0vncserver`` (system ``tigervnc``): TigerVNC's scraping server (Debian
  ``tigervnc-scraping-server``). Debian's ``x0vncserver`` is a Perl wrapper that reads
  ``~/.vnc`` configuration and daemonizes; the bench runs the server it starts, ``X0tigervnc``,
  directly (foreground, no configuration file) with loopback only (``-localhost``), no
  authentication (``-SecurityTypes None``), pointer, keys and resizing refused (view-only), and
  otherwise its defaults (XDamage, 60 updates a second at most, ``CompareFB`` auto).

websockify serves Debian's noVNC and listens on the user side of the veth; Chromium (tech side)
opens ``vnc_lite.html`` with ``scale=false`` so the canvas holds the remote screen 1:1 whatever the
window's size (VNC always sends the whole screen) and the probe reads the pattern from it on every
animation frame. noVNC 1.3 asks for CopyRect, then Tight, TightPNG, Hextile, RRE, Raw (at 24-bit
depth; quality 6, compression 2): both servers honour the client's order, so the picture comes as
Tight with each of them (TigerVNC's own statistics, logged when the viewer leaves, show it).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
from dataclasses import dataclass

from playwright.sync_api import Browser, BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError

from veo.bench.stream.browser import VIEWPORT, viewport
from veo.bench.stream.display import Display
from veo.bench.stream.lab import USER_ADDRESS, Lab
from veo.bench.stream.measure import pids_in_namespace
from veo.bench.stream.probe import Probe
from veo.bench.stream.procs import BenchError, Proc, Processes, wait_for

log = logging.getLogger(__name__)

NOVNC = "/usr/share/novnc"
#: how long noVNC gets to draw the screen, twice (the page loaded again after the first)
FIRST_DRAW_SECONDS = 30
RFB_PORT = 5950
WEB_PORT = 6080
X11VNC_FLAGS = ["-localhost", "-shared", "-forever", "-nopw", "-viewonly", "-quiet"]
#: x11vnc tuned for latency: no deferral of updates, a 5 ms poll instead of ~20 ms
X11VNC_TUNED_FLAGS = [*X11VNC_FLAGS, "-defer", "0", "-wait", "5"]
#: the server Debian's ``x0vncserver`` wrapper starts
X0VNC_PROGRAM = "X0tigervnc"
X0VNC_FLAGS = [
    "-localhost",
    "-SecurityTypes", "None",
    "-AcceptPointerEvents=0",
    "-AcceptKeyEvents=0",
    "-AcceptSetDesktopSize=0",
    "-AlwaysShared",
]  # fmt: skip


@dataclass(frozen=True)
class VncServer:
    """One reference server: its ``--vnc`` name, its system name in the figures, how it starts."""

    #: the ``--vnc`` choice
    key: str
    #: the system's name in the table and the JSON
    label: str
    program: str
    flags: tuple[str, ...]
    #: its RFB port (each its own: a server stopped a moment ago may still hold its port)
    port: int
    #: the Debian package that brings ``program``
    package: str

    def argv(self, display: str) -> list[str]:
        """The command line on X display ``display`` (``":N"``)."""
        return [self.program, "-display", display, "-rfbport", str(self.port), *self.flags]


VNC_SERVERS: dict[str, VncServer] = {
    server.key: server
    for server in (
        VncServer("x11vnc", "vnc", "x11vnc", tuple(X11VNC_FLAGS), RFB_PORT, "x11vnc"),
        VncServer("x11vnc-tuned", "vnc-tuned", "x11vnc", tuple(X11VNC_TUNED_FLAGS), RFB_PORT + 1, "x11vnc"),
        VncServer(
            "x0vncserver",
            "tigervnc",
            X0VNC_PROGRAM,
            tuple(X0VNC_FLAGS),
            RFB_PORT + 2,
            "tigervnc-scraping-server",
        ),
    )
}
#: every reference's system name (what the report compares veo with)
REFERENCE_LABELS = tuple(server.label for server in VNC_SERVERS.values())


def missing_servers(keys: list[str]) -> list[str]:
    """What the chosen servers need that this machine lacks (program and its package)."""
    missing = []
    for key in keys:
        server = VNC_SERVERS[key]
        if shutil.which(server.program) is None:
            missing.append(f"{server.program} (Debian package {server.package})")
    return list(dict.fromkeys(missing))


def novnc_url(port: int = WEB_PORT) -> str:
    """noVNC's page, 1:1 (``scale=false``) and view-only, on websockify's port."""
    return (
        f"http://{USER_ADDRESS}:{port}/vnc_lite.html?host={USER_ADDRESS}&port={port}"
        "&path=websockify&scale=false&view_only=true"
    )


class VncSession:
    """A VNC server + websockify + a noVNC page for one display; the probe reads noVNC's canvas.

    ``console``: the browser window's size (the page shows the screen 1:1 in it, scrolled to the
    top left; the probe reads the canvas, which holds the whole screen whatever the window).
    """

    codec = "rfb"
    setup_ms: float | None = None

    def __init__(
        self,
        lab: Lab,
        browser: Browser,
        display: Display,
        procs: Processes,
        tech_inode: int,
        server: VncServer | None = None,
        console: tuple[int, int] | None = None,
    ) -> None:
        self.procs = procs
        self.tech_inode = tech_inode
        self.server = server or VNC_SERVERS["x11vnc"]
        self.label = self.server.label
        self.console = console
        self.servers: list[Proc] = []
        self.context: BrowserContext | None = None
        try:
            self._open(lab, browser, display)
        except BaseException:
            self.close()
            raise

    def _open(self, lab: Lab, browser: Browser, display: Display) -> None:
        vnc = self.procs.start(
            f"{self.server.key}-{display.width}x{display.height}",
            lab.in_user(self.server.argv(display.name)),
        )
        self.servers.append(vnc)
        web = self.procs.start(
            "websockify",
            lab.in_user(
                ["websockify", "--web", NOVNC, f"{USER_ADDRESS}:{WEB_PORT}", f"127.0.0.1:{self.server.port}"]
            ),
        )
        self.servers.append(web)
        wait_for(f"{self.server.key} and websockify to listen", lambda: self._listening(lab), 60, vnc, web)
        size = viewport(self.console) if self.console else VIEWPORT
        self.context = browser.new_context(viewport=size)  # type: ignore[arg-type]
        self.page: Page = self.context.new_page()
        seen: list[str] = []  # what went wrong on the page, for the error below
        self.page.on("response", lambda r: seen.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        self.page.on("console", lambda m: seen.append(m.text) if m.type == "error" else None)
        self.page.goto(novnc_url())
        self.probe = Probe(self.page, "canvas", "#screen canvas", display.width, display.height)
        self.probe.install()
        drawn = lambda: self.probe.first_frame_at_ms() or None  # noqa: E731
        try:
            wait_for("noVNC to draw the screen", drawn, FIRST_DRAW_SECONDS, vnc, web)
        except BenchError:
            # Seen twice in whole e2e runs, never alone: the page loaded and the viewer never
            # connected to x0vncserver. Once more, and say what the page saw if that fails too.
            log.warning("noVNC drew nothing in %d s (%s): loading it again", FIRST_DRAW_SECONDS, seen)
            self.page.reload()
            self.probe.install()
            wait_for(
                f"noVNC to draw the screen (loaded twice; the page saw {seen})",
                drawn,
                FIRST_DRAW_SECONDS,
                vnc,
                web,
            )

    def _listening(self, lab: Lab) -> bool:
        """Both ports bound inside the user namespace (``ss`` run there)."""
        out = subprocess.run(
            lab.in_user(["ss", "-Htln"]), capture_output=True, text=True, check=False, timeout=10
        ).stdout
        return f":{self.server.port} " in out and f":{WEB_PORT} " in out

    def source_pids(self) -> list[int]:
        return [p.pid for p in self.servers if p.running()]

    def console_pids(self) -> list[int]:
        return pids_in_namespace(self.tech_inode, "chromium")

    def alive(self) -> None:
        for proc in self.servers:
            if not proc.running():
                raise BenchError(f"{proc.name} exited:\n{proc.tail()}")

    def close(self) -> None:
        if self.context is not None:
            with contextlib.suppress(PlaywrightError):
                self.context.close()
            self.context = None
        while self.servers:
            self.procs.stop(self.servers.pop())
