"""The wiring of ``veo bench stream --backend portal``: its desktop and workload, without a session.

A portal case (a veo session on a headless GNOME desktop, GNOME's dialog answered, five workloads)
takes about a minute, too long for ``make bench-smoke``; this checks in a few seconds what it
stands on: the bench's Wayland screen starts inside the bench's user namespace (mutter there, so
the agent and the workload share it), it hands the agent the desktop's session and the
``--backend portal`` flag, the X11 workload maps on mutter's Xwayland and its timestamp pattern
shows, decodable, in what mutter composites (the picture the portal streams), the pointer can be
parked, and closing stops the desktop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from veo.bench.stream.lab import Lab
from veo.bench.stream.pattern import BLOCK, BLOCKS, Layout, decode, latency_ms, stamp
from veo.bench.stream.procs import Processes
from veo.bench.stream.runner import WorkloadOutput
from veo.bench.stream.wayland_screen import WaylandScreen, missing
from veo.bench.wayland import screenshot

from .bench_support import bench_lab
from .conftest import _unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
SIZE = (1280, 720)


@pytest.fixture
def portal_screen() -> Iterator[tuple[Lab, Processes, WaylandScreen, Path]]:
    if os.geteuid() != 0:
        _unavailable("root (to create network namespaces)")
    problem = missing()
    if problem is not None:
        _unavailable(problem)
    with bench_lab("portal", "p") as (lab, procs, workdir):
        screen = WaylandScreen(lab.user, workdir, *SIZE)
        try:
            yield lab, procs, screen, workdir
        finally:
            screen.close()


def test_the_workload_draws_on_the_wayland_desktop_in_the_bench_namespace(
    portal_screen: tuple[Lab, Processes, WaylandScreen, Path],
) -> None:
    lab, procs, screen, workdir = portal_screen
    mutter = screen.desktop.mutter
    assert mutter is not None and mutter.running()
    assert os.stat(f"/proc/{mutter.pid}/ns/net").st_ino == lab.netns_inode(lab.user)
    agent_env = screen.agent_env()
    assert agent_env["XDG_SESSION_TYPE"] == "wayland" and agent_env["XDG_CURRENT_DESKTOP"] == "GNOME"
    assert agent_env["DBUS_SESSION_BUS_ADDRESS"] == screen.desktop.bus_address
    assert agent_env["DISPLAY"] == screen.name and agent_env["WAYLAND_DISPLAY"]
    assert screen.agent_args() == ["--backend", "portal"]
    # the display server's CPU is mutter's tree (Xwayland in it) and PipeWire's, this desktop's only
    server = screen.server_pids()
    assert server[0] == mutter.pid and len(server) == 3, server

    argv = [sys.executable, "-m", "veo.bench.stream.workload", "typing", str(SIZE[0]), str(SIZE[1])]
    app = procs.start("workload-typing", lab.in_user(argv), env=screen.env(), stdout_pipe=True)
    WorkloadOutput(app).ready(30)
    screen.rest_pointer()
    time.sleep(0.5)
    shot = screenshot(screen.desktop.env, workdir / "typing.png", cursor=True)
    taken_ms = int(time.time() * 1000)
    picture = Image.open(shot).convert("L")
    assert picture.size == SIZE
    layout = Layout(*SIZE)
    lumas = [
        float(picture.getpixel((x + BLOCK // 2, y + BLOCK // 2)))  # type: ignore[arg-type]
        for x, y, _w, _h in (layout.block(i) for i in range(BLOCKS))
    ]
    value = decode(lumas)
    assert value is not None, lumas  # the pattern is whole: no pointer or window over it
    assert latency_ms(taken_ms, value) < 5000, (taken_ms, stamp(taken_ms / 1000), value)


def test_closing_stops_the_desktop_and_the_next_one_of_that_size_starts_afresh(
    portal_screen: tuple[Lab, Processes, WaylandScreen, Path],
) -> None:
    """The next run of the bench opens a desktop of the same size in the same work directory:
    its programs must get that desktop's Xwayland cookie, not the previous one's."""
    lab, _, screen, workdir = portal_screen
    mutter = screen.desktop.mutter
    assert mutter is not None
    screen.close()
    assert not mutter.running()
    screen.close()  # idempotent: the fixture closes again
    again = WaylandScreen(lab.user, workdir, *SIZE)
    try:
        assert again.desktop.workdir != screen.desktop.workdir
        probe = subprocess.run(["xdpyinfo"], env=again.env(), capture_output=True, text=True, timeout=20)
        assert probe.returncode == 0, probe.stderr
    finally:
        again.close()
