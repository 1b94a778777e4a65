"""The reference: x11vnc (Debian) on the same display, viewed in noVNC through websockify.

Default settings are the fair baseline, so x11vnc gets only what it needs to run unattended and
view-only here: ``-localhost`` (websockify beside it is the only client), ``-shared -forever``,
``-nopw``, ``-viewonly``, ``-quiet``. websockify serves Debian's noVNC and listens on the user
side of the veth; Chromium (tech side) opens ``vnc_lite.html`` with ``scale=false`` so the canvas
holds the remote screen 1:1 and the probe reads the pattern from it on every animation frame.
"""

from __future__ import annotations

import contextlib
import subprocess

from playwright.sync_api import Browser, BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError

from veo.bench.stream.browser import VIEWPORT
from veo.bench.stream.display import Display
from veo.bench.stream.lab import USER_ADDRESS, Lab
from veo.bench.stream.measure import pids_in_namespace
from veo.bench.stream.probe import Probe
from veo.bench.stream.procs import BenchError, Proc, Processes, wait_for

NOVNC = "/usr/share/novnc"
RFB_PORT = 5950
WEB_PORT = 6080
X11VNC_FLAGS = ["-localhost", "-shared", "-forever", "-nopw", "-viewonly", "-quiet"]


class VncSession:
    """x11vnc + websockify + a noVNC page for one display; the probe reads noVNC's canvas."""

    label = "vnc"
    codec = "rfb"
    setup_ms: float | None = None

    def __init__(
        self, lab: Lab, browser: Browser, display: Display, procs: Processes, tech_inode: int
    ) -> None:
        self.procs = procs
        self.tech_inode = tech_inode
        self.servers: list[Proc] = []
        self.context: BrowserContext | None = None
        try:
            self._open(lab, browser, display)
        except BaseException:
            self.close()
            raise

    def _open(self, lab: Lab, browser: Browser, display: Display) -> None:
        vnc = self.procs.start(
            f"x11vnc-{display.width}x{display.height}",
            lab.in_user(["x11vnc", "-display", display.name, "-rfbport", str(RFB_PORT), *X11VNC_FLAGS]),
        )
        self.servers.append(vnc)
        web = self.procs.start(
            "websockify",
            lab.in_user(
                ["websockify", "--web", NOVNC, f"{USER_ADDRESS}:{WEB_PORT}", f"127.0.0.1:{RFB_PORT}"]
            ),
        )
        self.servers.append(web)
        wait_for("x11vnc and websockify to listen", lambda: self._listening(lab), 60, vnc, web)
        self.context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        self.page: Page = self.context.new_page()
        url = (
            f"http://{USER_ADDRESS}:{WEB_PORT}/vnc_lite.html?host={USER_ADDRESS}&port={WEB_PORT}"
            "&path=websockify&scale=false&view_only=true"
        )
        self.page.goto(url)
        self.probe = Probe(self.page, "canvas", "#screen canvas", display.width, display.height)
        self.probe.install()
        wait_for("noVNC to draw the screen", lambda: self.probe.first_frame_at_ms() or None, 60, vnc, web)

    @staticmethod
    def _listening(lab: Lab) -> bool:
        """Both ports bound inside the user namespace (``ss`` run there)."""
        out = subprocess.run(
            lab.in_user(["ss", "-Htln"]), capture_output=True, text=True, check=False, timeout=10
        ).stdout
        return f":{RFB_PORT} " in out and f":{WEB_PORT} " in out

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
