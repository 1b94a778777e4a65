"""The wiring of ``veo bench stream``'s TigerVNC reference (``--vnc x0vncserver``), without veo.

A whole reference case (five workloads on three networks) takes minutes; this checks in seconds
what it stands on: TigerVNC's scraping server starts on an Xvfb display inside the bench's user
namespace with the bench's command line (loopback only, no password, view-only), websockify and
noVNC (in headless Chromium in the tech namespace, across the bench's link) show its picture 1:1,
the probe decodes the workload's timestamp pattern from noVNC's canvas as it changes, and the
picture came as Tight: TigerVNC's own statistics, logged when the viewer leaves, count Tight
rectangles.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from veo.bench.stream.browser import CHROMIUM_ARGS, chromium_wrapper
from veo.bench.stream.display import Display
from veo.bench.stream.lab import Lab
from veo.bench.stream.procs import Processes
from veo.bench.stream.runner import WorkloadOutput, missing_requirements
from veo.bench.stream.vnc_pipeline import VNC_SERVERS, VncSession

from .bench_support import bench_lab
from .conftest import _unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
SIZE = (1280, 720)
SERVER = VNC_SERVERS["x0vncserver"]
WORKLOAD = [sys.executable, "-m", "veo.bench.stream.workload"]

CANVAS_SIZE = "() => { const c = document.querySelector('#screen canvas'); return [c.width, c.height]; }"


@pytest.fixture
def lab_display() -> Iterator[tuple[Lab, Processes, Display, Path]]:
    if os.geteuid() != 0:
        _unavailable("root (to create network namespaces)")
    problem = missing_requirements(True, references=["x0vncserver"])
    if problem is not None:
        _unavailable(problem)
    with bench_lab("tigervnc", "v") as (lab, procs, workdir):
        yield lab, procs, Display(lab, procs, *SIZE), workdir


def test_x0vncserver_in_the_bench_namespace_shows_the_pattern_in_novnc_as_tight(
    lab_display: tuple[Lab, Processes, Display, Path],
) -> None:
    lab, procs, display, workdir = lab_display

    def look() -> tuple[list[int], Any, Path]:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(chromium_wrapper(lab, workdir)), headless=True, args=CHROMIUM_ARGS
            )
            try:
                tech = lab.netns_inode(lab.tech)
                session = VncSession(lab, browser, display, procs, tech, SERVER, (1366, 768))
                server_log = session.servers[0].log_path
                assert session.label == "tigervnc"
                assert session.source_pids() and session.probe.first_frame_at_ms() > 0
                # loopback only: RFB is not reachable from the link, websockify is the only way in
                sockets = subprocess.run(
                    lab.in_user(["ss", "-Htln"]), capture_output=True, text=True, check=True, timeout=10
                ).stdout
                rfb = [
                    line.split()[3]
                    for line in sockets.splitlines()
                    if line.split()[3].endswith(f":{SERVER.port}")
                ]
                assert rfb and all(a.startswith(("127.0.0.1:", "[::1]:")) for a in rfb), rfb
                app = procs.start(
                    "workload-typing",
                    lab.in_user([*WORKLOAD, "typing", str(SIZE[0]), str(SIZE[1])]),
                    env=display.env(),
                    stdout_pipe=True,
                )
                WorkloadOutput(app).ready(30)
                session.probe.reset()
                time.sleep(2.5)  # ~20 keystrokes at 8 a second
                snapshot = session.probe.snapshot()
                procs.stop(app)
                canvas = session.page.evaluate(CANVAS_SIZE)
                session.alive()
                session.close()  # the viewer leaves: TigerVNC logs what it sent
            finally:
                browser.close()
        return canvas, snapshot, server_log

    # Playwright's sync API in a thread of its own: the suite's session browser (conftest) holds
    # a sync Playwright on the main thread, and a second one there refuses to start
    with ThreadPoolExecutor(1) as pool:
        canvas, snapshot, server_log = pool.submit(look).result()
    assert canvas == list(SIZE)  # the whole screen, 1:1, in a smaller window
    assert snapshot.updates >= 5, snapshot  # new pattern values reached the page
    assert snapshot.latencies_ms, snapshot
    log = server_log.read_text(errors="replace")
    assert "Listening for VNC connections on local interface" in log
    # e.g. "EncodeManager:   Tight:" then "Solid: 83 rects", "Tight (JPEG):" (noVNC's quality 6)
    assert re.search(r"EncodeManager:\s+Tight:", log), log[-2000:]
    assert not re.search(r"EncodeManager:\s+(Raw|Hextile|ZRLE|RRE):", log), log[-2000:]
