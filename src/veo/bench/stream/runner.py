"""The plan of a ``veo bench stream`` run and the loop that carries it out.

For each run, resolution and network: one veo session (per console size, codec, and path: direct,
then through coturn when the plan asks for the relay) runs every workload one after the other, then
each VNC reference (x11vnc at its defaults, x11vnc tuned for latency, TigerVNC's x0vncserver)
runs the same workloads on the same display, browser and link, once, in the first console size
(VNC sends the whole screen whatever the window); then, when the plan asks for it, the drop
scenario (:mod:`.drop`) in a session of its own.
Each workload gets a warm-up (its window mapped, the encoder settled), then a measured window:
the probe is reset, byte counters and CPU times are read at both ends.

Everything started is registered and stopped in ``finally`` (also on Ctrl-C and SIGTERM), and the
namespaces are deleted, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, cast

from playwright.sync_api import Browser, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from veo.bench.chromium import CHROMIUM
from veo.bench.stream import timeline
from veo.bench.stream.browser import CHROMIUM_ARGS, DEFAULT_CONSOLE, chromium_wrapper
from veo.bench.stream.burst import BurstResult
from veo.bench.stream.display import Display, Screen
from veo.bench.stream.drop import DropResult, run_drop
from veo.bench.stream.lab import Lab, Network
from veo.bench.stream.measure import CpuMeter, percentile
from veo.bench.stream.probe import Probe
from veo.bench.stream.procs import BenchError, Proc, Processes
from veo.bench.stream.readability import ReadabilityResult
from veo.bench.stream.report import Measurement, is_reference
from veo.bench.stream.turn import TurnRelay, server_settings
from veo.bench.stream.veo_pipeline import PORT, VeoServer, VeoSession
from veo.bench.stream.vnc_pipeline import NOVNC, VNC_SERVERS, VncServer, VncSession, missing_servers
from veo.bench.stream.wayland_screen import WaylandScreen
from veo.bench.stream.wayland_screen import missing as portal_missing

Progress = Callable[[str], None]
TOOLS = ("ip", "tc", "ss", "Xvfb", "xdpyinfo", "xdotool", CHROMIUM)
VNC_TOOLS = ("websockify",)
RELAY_TOOLS = ("turnserver",)


@dataclass
class Plan:
    resolutions: list[tuple[int, int]]
    networks: list[Network]
    workloads: list[str]
    seconds: float
    runs: int
    vnc: bool
    codecs: list[str | None] = field(default_factory=lambda: [None])
    warmup: float = 2.0
    #: ``direct`` and/or ``relay`` (through coturn, relay-only policy; unshaped network only)
    paths: list[str] = field(default_factory=lambda: ["direct"])
    #: the drop scenario's outage in seconds, or None for no drop scenario
    drop_seconds: float | None = None
    #: the agent's backends: ``x11`` (Xvfb) and/or ``portal`` (headless GNOME on Wayland, through
    #: xdg-desktop-portal; veo only, direct path, no drop scenario)
    backends: list[str] = field(default_factory=lambda: ["x11"])
    #: issue 18's scenarios (helper BENCH-SCEN): the burst on the poor link per X11 screen
    #: (:mod:`.burst`), and readability on its own 3840x2160 screen (:mod:`.readability`)
    burst: bool = False
    readability: bool = False
    #: the VNC references run when ``vnc``: keys of :data:`.vnc_pipeline.VNC_SERVERS`
    references: list[str] = field(default_factory=lambda: list(VNC_SERVERS))
    #: the console's browser windows (width, height): veo runs in each; VNC in the first
    consoles: list[tuple[int, int]] = field(default_factory=lambda: [DEFAULT_CONSOLE])

    def describe(self) -> dict[str, Any]:
        return {
            "resolutions": [f"{w}x{h}" for w, h in self.resolutions],
            "networks": {n.name: n.describe() for n in self.networks},
            "workloads": self.workloads,
            "seconds": self.seconds,
            "runs": self.runs,
            "vnc": self.vnc,
            "codecs": [c or "agent default" for c in self.codecs],
            "warmup_seconds": self.warmup,
            "paths": self.paths,
            "drop_seconds": self.drop_seconds,
            "backends": self.backends,
            "burst": self.burst,
            "readability": self.readability,
            "references": [VNC_SERVERS[key].label for key in self.references] if self.vnc else [],
            "consoles": [f"{w}x{h}" for w, h in self.consoles],
        }


class Session(Protocol):
    label: str
    codec: str
    setup_ms: float | None
    probe: Probe

    def source_pids(self) -> list[int]: ...
    def console_pids(self) -> list[int]: ...
    def alive(self) -> None: ...
    def close(self) -> None: ...


def session_path(session: Session) -> str:
    """``relay`` for a veo session through coturn; ``direct`` otherwise (VNC included)."""
    return str(getattr(session, "path", "direct"))


def missing_requirements(
    vnc: bool, relay: bool = False, portal: bool = False, references: list[str] | None = None
) -> str | None:
    """Why this machine cannot run the bench, or None."""
    if portal:
        problem = portal_missing()
        if problem is not None:
            return problem
    if os.geteuid() != 0:
        return "veo bench stream needs root: it creates network namespaces and shapes them with tc"
    tools = [*TOOLS, *(VNC_TOOLS if vnc else ()), *(RELAY_TOOLS if relay else ())]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if vnc:
        missing += missing_servers(list(VNC_SERVERS) if references is None else references)
    if vnc and not Path(NOVNC, "vnc_lite.html").exists():
        missing.append(f"{NOVNC} (Debian package novnc)")
    if missing:
        return f"veo bench stream needs {', '.join(missing)} (run `make system-packages`)"
    return None


class WorkloadOutput:
    """The workload's stdout read without blocking: its ``ready`` line, then ``steps N T`` lines."""

    def __init__(self, proc: Proc) -> None:
        assert proc.proc.stdout is not None
        self.proc = proc
        self.fd = proc.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buffer = b""
        self.lines: list[str] = []

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.buffer += chunk
            *complete, self.buffer = self.buffer.split(b"\n")
            self.lines += [line.decode(errors="replace").strip() for line in complete]

    def ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.running():
            select.select([self.fd], [], [], 0.2)
            self._drain()
            if "ready" in self.lines:
                return
        raise BenchError(f"the workload {self.proc.name} did not start:\n{self.proc.tail()}")

    def steps(self) -> tuple[int, float] | None:
        """The latest (content changes drawn, monotonic time) the workload reported."""
        self._drain()
        for line in reversed(self.lines):
            parts = line.split()
            if len(parts) == 3 and parts[0] == "steps":
                return int(parts[1]), float(parts[2])
        return None


def measure_workload(
    session: Session,
    workload: str,
    display: Screen,
    lab: Lab,
    procs: Processes,
    plan: Plan,
    network: Network,
    run: int,
    relay: TurnRelay | None = None,
) -> Measurement:
    """One workload's window; ``relay``: the relay path's coturn, whose bytes are counted too.

    The console's window size and the picture size its page received (veo's ``videoWidth`` ×
    ``videoHeight`` at the window's end) go into the measurement."""
    argv = [
        sys.executable,
        "-m",
        "veo.bench.stream.workload",
        workload,
        str(display.width),
        str(display.height),
    ]
    app = procs.start(f"workload-{workload}", lab.in_user(argv), env=display.env(), stdout_pipe=True)
    output = WorkloadOutput(app)
    try:
        output.ready(60)
        time.sleep(plan.warmup)
        session.alive()
        meters = {
            "source": CpuMeter(session.source_pids),
            "console": CpuMeter(session.console_pids),
            "workload": CpuMeter(lambda: [app.pid]),
            "server": CpuMeter(display.server_pids),
        }
        session.probe.reset()
        window_start_ms = time.time() * 1000
        steps_before = output.steps()
        before = session.probe.snapshot()
        rx0, tx0 = lab.tech_bytes()
        relay0 = relay.bytes() if relay is not None else 0
        t0 = time.monotonic()
        for meter in meters.values():
            meter.start()
        time.sleep(plan.seconds)
        usage = {name: meter.stop() for name, meter in meters.items()}
        rx1, tx1 = lab.tech_bytes()
        relay1 = relay.bytes() if relay is not None else 0
        elapsed = time.monotonic() - t0
        after = session.probe.snapshot()
        video_size = _video_size(session)
        stages = _stages(session, window_start_ms)
        time.sleep(0.3)  # the workload's next report covers the whole window
        steps_after = output.steps()
        session.alive()
    finally:
        procs.stop(app)
    window_s = max(after.elapsed_ms / 1000, 1e-3)
    moving = workload != "idle"
    app_bytes = (after.rtp_bytes + after.dc_bytes) - (before.rtp_bytes + before.dc_bytes)
    gap = after.max_gap_ms if after.updates > 1 else window_s * 1000
    drawn = None
    if steps_before is not None and steps_after is not None and steps_after[1] > steps_before[1]:
        drawn = (steps_after[0] - steps_before[0]) / (steps_after[1] - steps_before[1])
    return Measurement(
        system=session.label,
        codec=session.codec,
        resolution=f"{display.width}x{display.height}",
        network=network.name,
        workload=workload,
        run=run,
        seconds=round(elapsed, 2),
        latency_median_ms=percentile(after.latencies_ms, 0.5) if moving else None,
        latency_p95_ms=percentile(after.latencies_ms, 0.95) if moving else None,
        latency_samples=len(after.latencies_ms),
        latencies_ms=list(after.latencies_ms),
        updates_per_s=after.updates / window_s,
        frames_decoded_per_s=(after.frames_decoded - before.frames_decoded) / window_s
        if session.label == "veo"
        else None,
        max_gap_ms=gap if moving else None,
        wire_kbit_s=(rx1 - rx0 + tx1 - tx0) * 8 / elapsed / 1000,
        app_kbit_s=app_bytes * 8 / window_s / 1000 if session.label == "veo" else None,
        source_cpu_percent=usage["source"].cpu_percent,
        source_rss_mb=usage["source"].rss_mb,
        console_cpu_percent=usage["console"].cpu_percent,
        console_rss_mb=usage["console"].rss_mb,
        workload_cpu_percent=usage["workload"].cpu_percent,
        setup_ms=session.setup_ms,
        codec_seen=after.codec,
        invalid_frames=after.invalid,
        drawn_per_s=drawn,
        data_kbit_s=(after.dc_bytes - before.dc_bytes) * 8 / window_s / 1000
        if session.label == "veo"
        else None,
        path=session_path(session),
        candidates=after.candidates,
        relay_kbit_s=(relay1 - relay0) * 8 / elapsed / 1000 if relay is not None else None,
        backend=str(getattr(session, "backend", "x11")),
        server_cpu_percent=usage["server"].cpu_percent,
        stages=stages,
        console=_size_text(getattr(session, "console", None)),
        video_size=video_size,
    )


def _size_text(size: tuple[int, int] | None) -> str | None:
    return None if size is None else f"{size[0]}x{size[1]}"


#: the console's picture as received: the video element's intrinsic size (the encoded frame's)
_VIDEO_SIZE = """() => {
  const v = document.querySelector("#remote-video");
  return v && v.videoWidth ? v.videoWidth + "x" + v.videoHeight : null;
}"""


def _video_size(session: Session) -> str | None:
    """veo: ``videoWidth x videoHeight`` of the console's video now; None for VNC's canvas page."""
    if is_reference(session.label):
        return None
    value = session.probe.page.evaluate(_VIDEO_SIZE)
    return str(value) if value else None


def _stages(session: Session, start_ms: float) -> dict[str, dict[str, float | int | None]] | None:
    """veo: the window's frame-timeline lines joined with the probe's sightings (:mod:`.timeline`)."""
    log = getattr(session, "log", None)
    if log is None:
        return None
    frames = timeline.parse(log.lines(), start_ms, time.time() * 1000)
    return timeline.stage_figures(frames, session.probe.sightings())


def _line(m: Measurement) -> str:
    def f(value: float | None, unit: str = "") -> str:
        return "-" if value is None else f"{value:.0f}{unit}"

    return (
        f"  {m.name} {m.resolution}"
        + (f" in {m.console} (picture {m.video_size})" if m.video_size else "")
        + f" {m.network} {m.workload}: latency {f(m.latency_median_ms)}/"
        f"{f(m.latency_p95_ms)} ms (n={m.latency_samples}), {m.updates_per_s:.1f} updates/s "
        f"of {f(m.drawn_per_s)} drawn, "
        f"{m.wire_kbit_s:.0f} kbit/s, sender CPU {m.source_cpu_percent:.0f}% ({m.source_rss_mb:.0f} MB), "
        f"console CPU {m.console_cpu_percent:.0f}%, workload CPU {m.workload_cpu_percent:.0f}%, "
        f"display server CPU {f(m.server_cpu_percent)}%"
        + (f", ICE pair {m.candidates}" if m.candidates else "")
        + (f"\n    {timeline.summary_line(m.stages)}" if m.stages else "")
    )


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@dataclass
class _World:
    """What every case of a run shares."""

    plan: Plan
    lab: Lab
    procs: Processes
    server: VeoServer
    browser: Browser
    workdir: Path
    tech_inode: int
    progress: Progress
    measurements: list[Measurement] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    #: the relay path: coturn and the veo server that sends both peers to it
    turn: TurnRelay | None = None
    relay_server: VeoServer | None = None
    drops: list[DropResult] = field(default_factory=list)
    bursts: list[BurstResult] = field(default_factory=list)
    readability: list[ReadabilityResult] = field(default_factory=list)


def _sessions(world: _World, display: Screen, network: Network) -> list[tuple[str, Callable[[], Session]]]:
    """Per (display, network): one veo session per codec and path, then the VNC reference.

    The relay path only on the unshaped network: coturn's legs are plain veths, so on a shaped
    network the relay path would skip the shaping the direct one gets. On the portal backend's
    desktop: veo per codec on the direct path only (x11vnc cannot read a Wayland desktop, and the
    relay's cost does not depend on where the picture came from).
    """

    consoles = world.plan.consoles
    several = len(consoles) > 1

    def at(console: tuple[int, int]) -> str:
        return f" console {console[0]}x{console[1]}" if several else ""

    def on(screen: Screen, codec: str | None, console: tuple[int, int]) -> Callable[[], Session]:
        return lambda: VeoSession(
            world.server, world.browser, screen, world.procs, world.workdir, codec, world.tech_inode,
            console=console,
        )  # fmt: skip

    if isinstance(display, WaylandScreen):
        return [
            (f"veo/{codec or 'auto'}/portal{at(console)}", on(display, codec, console))
            for console in consoles
            for codec in world.plan.codecs
        ]

    def veo(codec: str | None, path: str, console: tuple[int, int]) -> Callable[[], Session]:
        server = world.relay_server if path == "relay" else world.server
        assert server is not None
        return lambda: VeoSession(
            server, world.browser, display, world.procs, world.workdir, codec, world.tech_inode, path=path,
            console=console,
        )  # fmt: skip

    makers = []
    for console in consoles:
        for path in world.plan.paths:
            if path == "relay" and network.shaped:
                if console == consoles[0]:
                    world.progress(
                        f"relay path: skipped on {network.name} (measured on the unshaped network)"
                    )
                continue
            suffix = "/relay" if path == "relay" else ""
            makers += [
                (f"veo/{codec or 'auto'}{suffix}{at(console)}", veo(codec, path, console))
                for codec in world.plan.codecs
            ]
    if world.plan.vnc:
        xvfb = cast(Display, display)
        for key in world.plan.references:
            server = VNC_SERVERS[key]

            def vnc(server: VncServer = server) -> Session:
                return VncSession(
                    world.lab, world.browser, xvfb, world.procs, world.tech_inode, server, consoles[0]
                )

            makers.append((f"{server.label}{at(consoles[0])}", vnc))
    return makers


def _case(world: _World, display: Screen, network: Network, run_index: int) -> None:
    """Every workload over every system on one display and network."""
    try:
        world.lab.shape(network)
    except BenchError as exc:
        world.failures.append(f"{network.name}: {str(exc).splitlines()[0]}")
        world.progress(f"{network.name}: FAILED to shape the link: {exc}")
        return
    for name, make in _sessions(world, display, network):
        where = f"{name} {display.width}x{display.height} {network.name} run {run_index}"
        world.progress(f"{where}: session set-up")
        try:
            session = make()
        except (BenchError, PlaywrightError) as exc:
            world.failures.append(f"{where}: {str(exc).splitlines()[0]}")
            world.progress(f"{where}: FAILED: {exc}")
            continue
        try:
            if session.setup_ms is not None:
                world.progress(f"{where}: set-up {session.setup_ms:.0f} ms")
            relay = world.turn if session_path(session) == "relay" else None
            for workload in world.plan.workloads:
                m = measure_workload(
                    session, workload, display, world.lab, world.procs, world.plan, network, run_index, relay
                )
                world.measurements.append(m)
                world.progress(_line(m))
                if relay is not None and m.candidates != "relay/relay":
                    # figures of a path that did not cross coturn would be passed off as the relay's
                    raise BenchError(f"the media did not cross coturn: ICE pair {m.candidates}")
        except (BenchError, PlaywrightError) as exc:
            world.failures.append(f"{where}: {str(exc).splitlines()[0]}")
            world.progress(f"{where}: FAILED: {exc}")
        finally:
            session.close()
    if world.plan.drop_seconds is not None and not isinstance(display, WaylandScreen):
        _drop(world, cast(Display, display), network, run_index)


def _drop(world: _World, display: Display, network: Network, run_index: int) -> None:
    """The drop scenario in a session of its own (direct path, control asked for and given)."""
    assert world.plan.drop_seconds is not None
    down = world.plan.drop_seconds

    def what(session: VeoSession) -> None:
        result = run_drop(session, display, world.lab, world.procs, network.name, down)
        world.drops.append(result)
        world.progress(f"  {result.line()}")
        for at, event in result.timeline:
            world.progress(f"    console {at / 1000:+.2f} s after the return: {event}")
        for line in result.agent_lines:
            world.progress(f"    agent: {line}")

    where = f"drop {display.width}x{display.height} {network.name} run {run_index}"
    _scenario(world, where, display, what, world.plan.consoles[0], control=True)


def _scenario(
    world: _World,
    where: str,
    display: Display,
    what: Callable[[VeoSession], None],
    console: tuple[int, int] | None = None,
    *,
    control: bool = False,
) -> None:
    """One scenario in a veo session of its own (direct path; view only unless ``control``).

    A session that cannot be set up, or a scenario that fails, is one failure of the run (its
    first line), not the run's end.
    """
    world.progress(f"{where}: session set-up")
    try:
        session = VeoSession(
            world.server, world.browser, display, world.procs, world.workdir,
            world.plan.codecs[0], world.tech_inode, control=control, console=console,
        )  # fmt: skip
    except (BenchError, PlaywrightError) as exc:
        world.failures.append(f"{where}: {str(exc).splitlines()[0]}")
        world.progress(f"{where}: FAILED: {exc}")
        return
    try:
        what(session)
    except (BenchError, PlaywrightError) as exc:
        world.failures.append(f"{where}: {str(exc).splitlines()[0]}")
        world.progress(f"{where}: FAILED: {exc}")
    finally:
        session.close()


def _burst(world: _World, display: Display, run_index: int) -> None:
    """The burst scenario (:mod:`.burst`) on the poor link."""
    from veo.bench.stream.burst import run_burst
    from veo.bench.stream.lab import NETWORKS

    poor = NETWORKS["poor"]
    world.lab.shape(poor)

    def what(session: VeoSession) -> None:
        result = run_burst(session, display, world.lab, world.procs, poor.name)
        world.bursts.append(result)
        world.progress(f"  {result.line()}")

    _scenario(world, f"burst {display.width}x{display.height} {poor.name} run {run_index}", display, what)


def _readability(world: _World) -> None:
    """The readability check (:mod:`.readability`) on a 3840x2160 screen of its own, unshaped."""
    from veo.bench.stream.lab import NETWORKS
    from veo.bench.stream.readability import CONSOLE_SIZE, SCREEN, run_readability

    world.lab.shape(NETWORKS["unshaped"])
    try:
        display = Display(world.lab, world.procs, *SCREEN)
    except BenchError as exc:
        world.failures.append(f"readability: {str(exc).splitlines()[0]}")
        return

    def what(session: VeoSession) -> None:
        result = run_readability(session, display, world.lab, world.procs, world.workdir)
        world.readability.append(result)
        world.progress(f"  {result.line()}")

    try:
        _scenario(world, f"readability {SCREEN[0]}x{SCREEN[1]}", display, what, CONSOLE_SIZE)
    finally:
        display.close()


def _open_relay(lab: Lab, procs: Processes, workdir: Path, progress: Progress) -> tuple[TurnRelay, VeoServer]:
    """coturn in its namespace, and the second veo server that sends both peers through it."""
    turn = TurnRelay(procs, lab.user, lab.tech, lab.user.removesuffix("-user") + "-turn", workdir)
    progress(f"relay path: coturn in {turn.name}")
    turn.open()
    lab.extra_tech_devices.append("vr-t")
    progress("relay path: veo server with VEO_ICE_TRANSPORT_POLICY=relay: starting")
    server = VeoServer(
        lab, procs, workdir, port=PORT + 1, settings=server_settings(turn.secret), name="veo-server-relay"
    )
    return turn, server


def _open_screen(world: _World, backend: str, width: int, height: int) -> Screen:
    """Xvfb for x11; a headless GNOME Wayland desktop in the user namespace for the portal."""
    if backend == "portal":
        world.progress(
            f"portal {width}x{height}: headless GNOME desktop (mutter, PipeWire, portals) starting"
        )
        return WaylandScreen(world.lab.user, world.workdir, width, height)
    return Display(world.lab, world.procs, width, height)


def _on_screen(world: _World, backend: str, width: int, height: int, run_index: int) -> None:
    """Every network's case on one backend's screen; a screen that does not start is a failure of
    that backend's cases, and the run goes on with the next."""
    try:
        display = _open_screen(world, backend, width, height)
    except BenchError as exc:
        world.failures.append(f"{backend} {width}x{height} run {run_index}: {str(exc).splitlines()[0]}")
        world.progress(f"{backend} {width}x{height}: FAILED to start the screen: {exc}")
        return
    try:
        for network in world.plan.networks:
            _case(world, display, network, run_index)
        if world.plan.burst and isinstance(display, Display):
            _burst(world, display, run_index)
    finally:
        display.close()


@dataclass
class Outcome:
    """What a run produced: per-workload measurements, drop results and failures (one line each)."""

    measurements: list[Measurement]
    drops: list[DropResult]
    failures: list[str]
    bursts: list[BurstResult] = field(default_factory=list)
    readability: list[ReadabilityResult] = field(default_factory=list)


def scenario_sections(outcome: Outcome) -> dict[str, Any]:
    """The JSON sections of issue 18's scenarios that ran (targets.py judges them)."""
    sections: dict[str, Any] = {}
    if outcome.bursts:
        sections["burst"] = [b.as_json() for b in outcome.bursts]
    if outcome.readability:
        sections["readability"] = [r.as_json() for r in outcome.readability]
    return sections


def run(plan: Plan, progress: Progress, workdir: Path) -> Outcome:
    """Carry out ``plan``."""
    procs = Processes(workdir)
    lab = Lab(procs)
    previous = signal.signal(signal.SIGTERM, _sigterm)
    world: _World | None = None
    turn: TurnRelay | None = None
    try:
        progress(f"lab: namespaces {lab.user} / {lab.tech}; logs in {workdir}")
        lab.open()
        progress("veo server: starting")
        server = VeoServer(lab, procs, workdir)
        relay_server = None
        if "relay" in plan.paths:
            turn, relay_server = _open_relay(lab, procs, workdir, progress)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(chromium_wrapper(lab, workdir)), headless=True, args=CHROMIUM_ARGS
            )
            world = _World(plan, lab, procs, server, browser, workdir, lab.netns_inode(lab.tech), progress)
            world.turn, world.relay_server = turn, relay_server
            try:
                for run_index in range(1, plan.runs + 1):
                    for width, height in plan.resolutions:
                        for backend in plan.backends:
                            _on_screen(world, backend, width, height, run_index)
                if plan.readability:
                    _readability(world)
            finally:
                with contextlib.suppress(PlaywrightError):
                    browser.close()
    finally:
        procs.stop_all()
        if turn is not None:
            turn.close()
        lab.close()
        signal.signal(signal.SIGTERM, previous)
    assert world is not None
    return Outcome(world.measurements, world.drops, world.failures, world.bursts, world.readability)


def _version(package: str) -> str | None:
    """The installed Debian package's version (what the reference figures were measured with)."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() or None


def metadata(plan: Plan) -> dict[str, Any]:
    """Date, machine and commit: what a reader of the figures needs to weigh them."""

    def output(argv: list[str]) -> str:
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, timeout=20, check=False
            ).stdout.strip()
        except OSError:
            return ""

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    root = Path(__file__).resolve().parents[4]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": output(["git", "-C", str(root), "rev-parse", "--short", "HEAD"]) or None,
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release()},
        "chromium": output([CHROMIUM, "--version"]),
        "references": {
            server.label: {
                "argv": server.argv(":N"),
                "package": server.package,
                "version": _version(server.package),
            }
            for key, server in VNC_SERVERS.items()
            if plan.vnc and key in plan.references
        },
        "plan": plan.describe(),
    }
