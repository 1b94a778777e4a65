"""``veo bench stream``: its flags, the three modes, and what it prints and writes.

Modes: ``--quick`` (default; 1920×1080, the three networks, five workloads, veo and the three VNC
references, ~8 s each: ~20 minutes here), ``--full`` (both resolutions, 3 runs, medians; add
``--codec h264,vp8`` to compare the codecs, which doubles it), ``--smoke`` (typing, unshaped, veo
only, ~5 s: proves the bench still works).
The references (``--vnc``, default all three): x11vnc at its defaults, x11vnc tuned for latency,
TigerVNC's x0vncserver; ``--no-vnc`` runs none. ``--resolutions`` takes screens up to 3840x2160
and ``--console-sizes`` the console's browser windows (veo runs in each, VNC in the first).
Explicit flags override the mode's choices. Two scenarios of issue 13 come on top of any mode:
``--paths direct,relay`` measures the same workloads through coturn beside the direct path (on the
unshaped network), and ``--drop`` takes the link down mid-typing and times the recovery.
``--backend x11,portal`` measures the same workloads with the agent on a headless GNOME Wayland
desktop through xdg-desktop-portal beside the X11 path (veo only, direct path).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veo.bench.stream.browser import DEFAULT_CONSOLE
from veo.bench.stream.lab import NETWORKS, Network
from veo.bench.stream.workload import MODES


@dataclass(frozen=True)
class ModeDefaults:
    """What a mode measures unless flags say otherwise."""

    resolutions: list[tuple[int, int]]
    networks: list[str]
    workloads: list[str]
    seconds: float
    runs: int
    vnc: bool


MODE_DEFAULTS = {
    "quick": ModeDefaults([(1920, 1080)], list(NETWORKS), list(MODES), 8.0, 1, True),
    "full": ModeDefaults([(1920, 1080), (1280, 720)], list(NETWORKS), list(MODES), 10.0, 3, True),
    "smoke": ModeDefaults([(1280, 720)], ["unshaped"], ["typing"], 5.0, 1, False),
}
RESOLUTIONS = {"2160p": (3840, 2160), "4k": (3840, 2160), "1440p": (2560, 1440), "1080p": (1920, 1080),
               "720p": (1280, 720)}  # fmt: skip
#: ``--vnc`` choices, in the order they run (keys of vnc_pipeline.VNC_SERVERS, kept import-light)
REFERENCES = ("x11vnc", "x11vnc-tuned", "x0vncserver")
#: ``vp8-console``: the agent's default, but a console whose browser cannot receive H.264 (Chromium
#: with H.264 taken out of its codec preferences), so the agent falls back to VP8 exactly as for
#: Firefox without OpenH264
CODECS = ("auto", "h264", "vp8", "vp8-console")
PATHS = ("direct", "relay")
BACKENDS = ("x11", "portal")
DEFAULT_DROP_SECONDS = 10.0


def _sizes(what: str, low: tuple[int, int], high: tuple[int, int], names: dict[str, tuple[int, int]]
           ) -> Callable[[str], list[tuple[int, int]]]:  # fmt: skip
    """A parser of comma-separated ``WIDTHxHEIGHT`` (or a name of ``names``), each within
    ``low``..``high`` and even (the encoder's 4:2:0 wants even sizes), duplicates dropped."""

    def parse(text: str) -> list[tuple[int, int]]:
        found = []
        for part in filter(None, (p.strip().lower() for p in text.split(","))):
            if part in names:
                found.append(names[part])
                continue
            match = re.fullmatch(r"(\d{3,4})x(\d{3,4})", part)
            if match is None:
                raise argparse.ArgumentTypeError(f"{part!r} is not WIDTHxHEIGHT (e.g. 1920x1080)")
            width, height = int(match.group(1)), int(match.group(2))
            if not (low[0] <= width <= high[0] and low[1] <= height <= high[1]) or width % 2 or height % 2:
                raise argparse.ArgumentTypeError(
                    f"{part}: use even sizes from {low[0]}x{low[1]} to {high[0]}x{high[1]}"
                )
            found.append((width, height))
        if not found:
            raise argparse.ArgumentTypeError(f"name at least one {what}")
        return list(dict.fromkeys(found))

    return parse


_resolutions = _sizes("resolution", (640, 480), (3840, 2160), RESOLUTIONS)
#: the console's browser window: from a small laptop's to a 4K monitor's
_console_sizes = _sizes("console size", (800, 600), (3840, 2160), {})


def _choices(known: tuple[str, ...] | list[str], what: str) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [p.strip() for p in text.split(",") if p.strip()]
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}"
            )
        return list(dict.fromkeys(names))

    return parse


def _number(low: float, high: float, integer: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}")
        return value

    return parse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], _: Callable[[str], str]) -> None:
    stream = sub.add_parser(
        "stream",
        help=_("measure screen sharing (latency, frame rate, bytes, CPU) beside VNC on shaped networks"),
        description=_(
            "Measure the real pipeline (veo server, agent on Xvfb, console in headless Chromium) "
            "and VNC servers (x11vnc, TigerVNC) with noVNC over shaped links between network namespaces. "
            "Needs root."
        ),
    )
    mode = stream.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="mode",
        action="store_const",
        const="quick",
        help=_(
            "1080p, three networks, five workloads, veo and the three VNC references "
            "(default; about 15 minutes)"
        ),
    )
    mode.add_argument(
        "--full",
        dest="mode",
        action="store_const",
        const="full",
        help=_("both resolutions, three runs each, medians"),
    )
    mode.add_argument("--smoke", dest="mode", action="store_const", const="smoke",
                      help=_("one short typing workload, unshaped, veo only"))  # fmt: skip
    stream.set_defaults(mode="quick")
    stream.add_argument(
        "--resolutions",
        type=_resolutions,
        metavar="LIST",
        help=_("comma-separated WIDTHxHEIGHT up to 3840x2160 (or 4k, 1440p, 1080p, 720p)"),
    )
    stream.add_argument(
        "--console-sizes",
        type=_console_sizes,
        metavar="LIST",
        help=_(
            "comma-separated WIDTHxHEIGHT: the console's browser windows, e.g. 1920x1080,1366x768 "
            "(veo runs in each, VNC in the first; default 1920x1200)"
        ),
    )
    stream.add_argument(
        "--networks",
        type=_choices(list(NETWORKS), "network"),
        metavar="LIST",
        help=_("comma-separated: unshaped, office, poor"),
    )
    stream.add_argument(
        "--workloads",
        type=_choices(MODES, "workload"),
        metavar="LIST",
        help=_("comma-separated: idle, typing, scrolling, dragging, animation"),
    )
    stream.add_argument(
        "--codec",
        type=_choices(CODECS, "codec"),
        metavar="LIST",
        help=_("codecs to compare (auto, h264, vp8, vp8-console: a console without H.264)"),
    )
    stream.add_argument(
        "--seconds", type=_number(2, 600), metavar="N", help=_("measured seconds per workload")
    )
    stream.add_argument(
        "--runs", type=_number(1, 20, integer=True), metavar="N", help=_("repetitions (medians)")
    )
    stream.add_argument(
        "--paths",
        type=_choices(PATHS, "path"),
        metavar="LIST",
        help=_(
            "direct, relay, or both: relay sends the session through coturn "
            "(relay-only policy, unshaped network only) to compare its cost"
        ),
    )
    stream.add_argument(
        "--drop",
        action="store_true",
        help=_("also take the link down mid-typing and time how long the session takes to come back"),
    )
    stream.add_argument(
        "--drop-seconds",
        type=_number(1, 600),
        metavar="N",
        help=_("how long the link stays down in the drop scenario (default 10)"),
    )
    stream.add_argument(
        "--backend",
        type=_choices(BACKENDS, "backend"),
        metavar="LIST",
        help=_(
            "x11, portal, or both: portal runs the agent with --backend portal on a headless "
            "GNOME Wayland desktop (the workload through Xwayland) beside the X11 path"
        ),
    )
    stream.add_argument(
        "--vnc",
        type=_choices(REFERENCES, "VNC server"),
        metavar="LIST",
        help=_(
            "the VNC references beside veo: x11vnc (its defaults), x11vnc-tuned (-defer 0 -wait 5), "
            "x0vncserver (TigerVNC); default all three"
        ),
    )
    stream.add_argument(
        "--burst",
        action="store_true",
        help=_(
            "also measure how soon typing is fast again after a 2-second scrolling burst on the poor link"
        ),
    )
    stream.add_argument(
        "--readability",
        action="store_true",
        help=_("also check that 11-pixel text on a 3840x2160 screen stays readable in a 1920x1080 console"),
    )
    stream.add_argument("--no-vnc", action="store_true", help=_("skip the VNC references"))
    stream.add_argument("--json", type=Path, metavar="PATH", help=_("also write the figures as JSON"))
    stream.add_argument("--chart", type=Path, metavar="PATH", help=_("also draw the figures as a PNG chart"))
    stream.add_argument("--keep", action="store_true", help=_("keep the logs directory"))  # fmt: skip


def vnc_choice(args: argparse.Namespace, defaults: ModeDefaults) -> tuple[bool, list[str]]:
    """Whether VNC runs, and which references: ``--no-vnc`` none; ``--vnc LIST`` those (even in
    ``--smoke``, whose default is none); otherwise the mode's default (all three, or none)."""
    if args.no_vnc:
        return False, []
    if args.vnc:
        return True, list(args.vnc)
    return (True, list(REFERENCES)) if defaults.vnc else (False, [])


def main(args: argparse.Namespace) -> int:
    from veo.bench.stream import report, runner, timeline
    from veo.bench.stream.drop import medians_line
    from veo.bench.stream.targets import check_issue18, issue18_text
    from veo.bench.stream.veo_pipeline import agent_takes_codec

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    defaults = MODE_DEFAULTS[args.mode]
    vnc, references = vnc_choice(args, defaults)
    paths = list(args.paths or ["direct"])
    backends = list(args.backend or ["x11"])
    problem = runner.missing_requirements(
        vnc, relay="relay" in paths, portal="portal" in backends, references=references
    )
    if problem is not None:
        print(f"veo bench stream: {problem}", file=sys.stderr)
        return 2
    codecs: list[str | None]
    if args.codec:
        if any(c != "vp8-console" for c in args.codec) and not agent_takes_codec():
            print("veo bench stream: this veo agent has no --codec option", file=sys.stderr)
            return 2
        codecs = list(args.codec)
    else:
        codecs = [None]
    networks: list[Network] = [NETWORKS[n] for n in (args.networks or defaults.networks)]
    plan = runner.Plan(
        resolutions=args.resolutions or defaults.resolutions,
        networks=networks,
        workloads=args.workloads or defaults.workloads,
        seconds=float(args.seconds or defaults.seconds),
        runs=int(args.runs or defaults.runs),
        vnc=vnc,
        codecs=codecs,
        paths=paths,
        drop_seconds=(args.drop_seconds or DEFAULT_DROP_SECONDS) if args.drop or args.drop_seconds else None,
        backends=backends,
        burst=args.burst,
        readability=args.readability,
        references=references,
        consoles=list(args.console_sizes or [DEFAULT_CONSOLE]),
    )
    workdir = Path(tempfile.mkdtemp(prefix="veo-bench-stream-"))
    try:
        outcome = runner.run(plan, progress, workdir)
        measurements, failures = outcome.measurements, outcome.failures
    except KeyboardInterrupt:
        progress(f"interrupted; everything started was stopped (logs in {workdir})")
        return 130
    except Exception as exc:
        progress(f"veo bench stream failed: {exc} (logs in {workdir})")
        return 1
    meta = runner.metadata(plan)
    summaries = report.summarize(measurements)
    print(report.table(summaries))
    targets = report.targets_text(summaries)
    if targets:
        print(targets)
    codecs_text = report.codec_comparison(summaries)
    if codecs_text:
        print(codecs_text)
    relay_text = report.relay_comparison(summaries)
    if relay_text:
        print(relay_text)
    backend_text = report.backend_comparison(summaries)
    if backend_text:
        print(backend_text)
    for drop in outcome.drops:
        print(drop.line())
    drop_medians = medians_line(outcome.drops)
    if drop_medians:
        print(drop_medians)
    for line in [b.line() for b in outcome.bursts] + [r.line() for r in outcome.readability]:
        print(line)
    extra: dict[str, Any] = {
        "drops": [drop.as_json() for drop in outcome.drops],
        **runner.scenario_sections(outcome),
        "stages": timeline.per_case(measurements),
    }
    # issue 18's table last: the scenarios' sections (extra) feed its burst and readability rows
    issue18 = check_issue18(summaries, extra)
    extra["targets_issue18"] = [row.as_json() for row in issue18]
    if any(row.met is not None for row in issue18):
        print(issue18_text(issue18))
    for failure in failures:
        print(f"FAILED: {failure}")
    if args.json is not None:
        report.write_json(args.json, measurements, {**meta, "failures": failures}, extra)
    if args.chart is not None and summaries:
        report.chart(args.chart, summaries, f"veo bench stream, {meta['date']}, commit {meta['commit']}")
    measured = any(m.latency_samples > 0 for m in measurements if m.workload != "idle") or (
        bool(measurements) and all(m.workload == "idle" for m in measurements)
    )
    if args.keep or failures or not measured:
        progress(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if measured and not failures else 1
