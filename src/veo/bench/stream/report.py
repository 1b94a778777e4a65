"""The figures: one :class:`Measurement` per workload run, medians over runs, table, JSON, chart.

A row of the table is one (resolution, console size, network, workload) and system; veo's rows
sit beside the references' (``vnc``: x11vnc at its defaults, ``vnc-tuned``: x11vnc tuned for
latency, ``tigervnc``: TigerVNC's x0vncserver), and each veo row's ratios (latency, bytes) are
computed from the medians against the BEST reference of the case, the one with the lowest latency
median (the fewest bytes for idle, which has no latency), named in the row: a figure below 1
means veo did better than the best VNC there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from veo.bench.stream.measure import median_of


@dataclass
class Measurement:
    """One workload, measured once on one system (``veo`` with a codec, or a VNC reference:
    ``vnc``, ``vnc-tuned``, ``tigervnc``)."""

    system: str
    codec: str
    resolution: str
    network: str
    workload: str
    run: int
    seconds: float
    latency_median_ms: float | None
    latency_p95_ms: float | None
    latency_samples: int
    updates_per_s: float
    frames_decoded_per_s: float | None
    max_gap_ms: float | None
    wire_kbit_s: float
    app_kbit_s: float | None
    source_cpu_percent: float
    source_rss_mb: float
    console_cpu_percent: float
    console_rss_mb: float
    workload_cpu_percent: float
    setup_ms: float | None = None
    codec_seen: str | None = None
    invalid_frames: int = 0
    drawn_per_s: float | None = None
    #: the data channel's part of ``app_kbit_s`` (cursor, chat...): tells stream bytes from the rest
    data_kbit_s: float | None = None
    #: every latency sample in the order seen (for the tail: when the slow ones came)
    latencies_ms: list[float] = field(default_factory=list)
    #: ``direct`` (peer to peer over the link) or ``relay`` (through coturn, relay-only policy)
    path: str = "direct"
    #: the relay path: bytes through coturn's two legs, both ways (what the relay's operator carries)
    relay_kbit_s: float | None = None
    #: the console's selected ICE candidate pair, its side first (``relay/relay`` on the relay path)
    candidates: str | None = None
    #: the agent's backend: ``x11`` (Xvfb, XDamage/XTEST) or ``portal`` (headless GNOME on Wayland
    #: through xdg-desktop-portal and PipeWire)
    backend: str = "x11"
    #: the display server's CPU (% of one core): Xvfb on x11; mutter (with its Xwayland),
    #: PipeWire and WirePlumber on the portal, where compositing and the stream happen outside
    #: the agent
    server_cpu_percent: float | None = None
    #: veo: per-stage medians/p95 in ms from the agent's frame-timeline lines joined with the
    #: probe (:mod:`.timeline`); None for VNC
    stages: dict[str, dict[str, float | int | None]] | None = None
    #: the console's browser window, ``WxH`` CSS pixels (``--console-sizes``; None: older JSON)
    console: str | None = None
    #: the picture the page received at the window's end, ``videoWidth x videoHeight`` of the
    #: console's video element (veo; smaller than the screen when the agent fits it to the console)
    video_size: str | None = None

    @property
    def name(self) -> str:
        if is_reference(self.system):
            return self.system
        return (
            f"veo/{self.codec}"
            + ("/portal" if self.backend == "portal" else "")
            + ("/relay" if self.path == "relay" else "")
        )


def is_reference(name: str) -> bool:
    """A VNC reference's system (``vnc``, ``vnc-tuned``, ``tigervnc``), not one of veo's."""
    return not name.startswith("veo")


@dataclass
class Summary:
    """Medians over runs of the same (system, resolution, console, network, workload)."""

    name: str
    resolution: str
    network: str
    workload: str
    runs: int
    figures: dict[str, float | None] = field(default_factory=dict)
    #: the console's window (``WxH``), "" when not recorded
    console: str = ""
    #: the picture size the console received (the last run's), "" for VNC (always the screen)
    video_size: str = ""


SUMMED = (
    "latency_median_ms",
    "latency_p95_ms",
    "updates_per_s",
    "drawn_per_s",
    "frames_decoded_per_s",
    "max_gap_ms",
    "wire_kbit_s",
    "app_kbit_s",
    "data_kbit_s",
    "source_cpu_percent",
    "source_rss_mb",
    "console_cpu_percent",
    "workload_cpu_percent",
    "setup_ms",
    "relay_kbit_s",
    "server_cpu_percent",
)


def summarize(measurements: list[Measurement]) -> list[Summary]:
    groups: dict[tuple[str, str, str, str, str], list[Measurement]] = {}
    for m in measurements:
        groups.setdefault((m.name, m.resolution, m.console or "", m.network, m.workload), []).append(m)
    summaries = []
    for (name, resolution, console, network, workload), group in groups.items():
        figures = {key: median_of(getattr(m, key) for m in group) for key in SUMMED}
        video = next((m.video_size for m in reversed(group) if m.video_size), "")
        summaries.append(Summary(name, resolution, network, workload, len(group), figures, console, video))
    return summaries


def same_case(a: Summary, b: Summary) -> bool:
    """Same screen, network and workload (a reference's case spans every console size: VNC
    shows the whole screen 1:1 whatever the window)."""
    return (a.resolution, a.network, a.workload) == (b.resolution, b.network, b.workload)


def console_label(console: str) -> str:
    """`` console WxH`` for a case's text when the console's size was recorded, else nothing."""
    return f" console {console}" if console else ""


def best_reference(summaries: list[Summary], s: Summary) -> Summary | None:
    """The best VNC reference of ``s``'s case: the lowest latency median, or for a case without
    latency (idle) the fewest bytes. None when no reference was measured there."""
    refs = [r for r in summaries if is_reference(r.name) and same_case(r, s)]
    timed = [r for r in refs if r.figures.get("latency_median_ms") is not None]
    if timed:
        return min(timed, key=lambda r: (r.figures["latency_median_ms"] or 0.0, r.name))
    sized = [r for r in refs if r.figures.get("wire_kbit_s") is not None]
    return min(sized, key=lambda r: (r.figures["wire_kbit_s"] or 0.0, r.name)) if sized else None


REFERENCE_FIGURES = (
    "latency_median_ms",
    "latency_p95_ms",
    "updates_per_s",
    "wire_kbit_s",
    "source_cpu_percent",
    "console_cpu_percent",
)


def reference_pairs(summaries: list[Summary]) -> list[dict[str, Any]]:
    """Each veo case beside the best reference of its case: its name, both figures and veo ÷ best
    (below 1: veo did better), and every reference's latency median for the record."""
    pairs = []
    for s in sorted(summaries, key=_order):
        if is_reference(s.name):
            continue
        best = best_reference(summaries, s)
        if best is None:
            continue
        refs = {
            r.name: r.figures.get("latency_median_ms")
            for r in summaries
            if is_reference(r.name) and same_case(r, s)
        }
        pairs.append(
            {
                "system": s.name,
                "resolution": s.resolution,
                "console": s.console,
                "network": s.network,
                "workload": s.workload,
                "best_reference": best.name,
                **side_by_side(("veo", s), ("reference", best), REFERENCE_FIGURES),
                "references_latency_median_ms": refs,
            }
        )
    return pairs


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def side_by_side(
    first: tuple[str, Summary], second: tuple[str, Summary], keys: Sequence[str]
) -> dict[str, dict[str, float | None]]:
    """Two summaries' ``keys`` under their names, and ``ratio``: first / second, key by key.

    The JSON shape of every comparison pair (veo and its best reference, relay and direct path,
    portal and X11 backend).
    """
    (name_a, a), (name_b, b) = first, second
    return {
        name_a: {key: a.figures.get(key) for key in keys},
        name_b: {key: b.figures.get(key) for key in keys},
        "ratio": {key: ratio(a.figures.get(key), b.figures.get(key)) for key in keys},
    }


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


COLUMNS = (
    ("lat p50", "latency_median_ms", 0),
    ("p95", "latency_p95_ms", 0),
    ("fps", "frames_decoded_per_s", 1),
    ("updates/s", "updates_per_s", 1),
    ("drawn/s", "drawn_per_s", 0),
    ("kbit/s", "wire_kbit_s", 0),
    ("src CPU%", "source_cpu_percent", 1),
    ("src MB", "source_rss_mb", 0),
    ("console CPU%", "console_cpu_percent", 1),
    ("server CPU%", "server_cpu_percent", 1),
    ("stall ms", "max_gap_ms", 0),
)


NETWORK_ORDER = ("unshaped", "office", "poor")
#: the references in the order they run: x11vnc at its defaults, tuned, TigerVNC
REFERENCE_ORDER = ("vnc", "vnc-tuned", "tigervnc")
WORKLOAD_ORDER = ("idle", "typing", "scrolling", "dragging", "animation")


def _rank(order: tuple[str, ...], name: str) -> int:
    return order.index(name) if name in order else len(order)


def _width(size: str) -> int:
    return int(size.split("x")[0]) if "x" in size else 0


def _order(s: Summary) -> tuple[int, int, int, bool, int, int, str]:
    """Largest screen first, then the networks and workloads in the order the issue lists them;
    per case veo first (largest console first), then the references."""
    return (
        -_width(s.resolution),
        _rank(NETWORK_ORDER, s.network),
        _rank(WORKLOAD_ORDER, s.workload),
        is_reference(s.name),
        -_width(s.console),
        _rank(REFERENCE_ORDER, s.name),
        s.name,
    )


def table(summaries: list[Summary]) -> str:
    """A plain-text table: one line per system and case; veo's rows end with the case's best
    reference and veo ÷ that reference (latency median, bytes)."""
    header = (
        ["resolution", "network", "workload", "system", "console", "video"]
        + [c[0] for c in COLUMNS]
        + ["best ref", "lat÷ref", "bytes÷ref"]
    )
    rows: list[list[str]] = []
    ordered = sorted(summaries, key=_order)
    for s in ordered:
        ref = None if is_reference(s.name) else best_reference(summaries, s)
        row = [s.resolution, s.network, s.workload, s.name, s.console or "-", s.video_size or "-"]
        row += [_fmt(s.figures[key], digits) for _, key, digits in COLUMNS]
        row.append(ref.name if ref is not None else "")
        if ref is not None:
            row.append(_fmt(ratio(s.figures["latency_median_ms"], ref.figures["latency_median_ms"]), 2))
            row.append(_fmt(ratio(s.figures["wire_kbit_s"], ref.figures["wire_kbit_s"]), 2))
        else:
            row += ["", ""]
        rows.append(row)
    widths = [
        max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i])
        for i in range(len(header))
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    several = len({s.console for s in ordered if not is_reference(s.name)}) > 1
    setups = [
        (
            s.name,
            s.resolution + (console_label(s.console) if several else ""),
            s.network,
            s.figures["setup_ms"],
        )
        for s in ordered
        if s.figures["setup_ms"]
    ]
    seen = set()
    for name, resolution, network, setup in setups:
        if (name, resolution, network) not in seen:
            seen.add((name, resolution, network))
            lines.append(
                f"session set-up (Allow -> first frame) {name} {resolution} {network}: {setup:.0f} ms"
            )
    return "\n".join(lines)


def cpu_per_frame_ms(s: Summary) -> float | None:
    """The sender's CPU per frame sent, in ms of one core (its CPU % over the frames delivered)."""
    cpu, fps = s.figures["source_cpu_percent"], s.figures["frames_decoded_per_s"]
    if cpu is None or fps is None or fps < 1:
        return None
    return cpu * 10 / fps


def codec_comparison(summaries: list[Summary]) -> str:
    """With more than one veo codec in the run: each one's sender CPU per frame beside the first's.

    Side by side in one run (same display, link and minute of the shared machine): a ratio is what
    to quote, not the absolute figures.
    """
    by_case: dict[tuple[str, str, str, tuple[bool, bool, str]], list[Summary]] = {}
    for s in sorted(summaries, key=_order):
        # codecs compare on the same path and backend (relay and portal have their own comparisons)
        if not is_reference(s.name):
            way = ("/relay" in s.name, "/portal" in s.name, s.console)
            by_case.setdefault((s.resolution, s.network, s.workload, way), []).append(s)
    lines = []
    for (resolution, network, workload, _), group in by_case.items():
        if len(group) < 2:
            continue
        first = group[0]
        for other in group[1:]:
            per_frame = ratio(cpu_per_frame_ms(other), cpu_per_frame_ms(first))
            per_second = ratio(other.figures["source_cpu_percent"], first.figures["source_cpu_percent"])
            lines.append(
                f"{resolution} {network} {workload}: {other.name} ÷ {first.name} sender CPU per frame "
                f"{_fmt(cpu_per_frame_ms(other), 2)} / {_fmt(cpu_per_frame_ms(first), 2)} ms = "
                f"{_fmt(per_frame, 2)}x, per second {_fmt(per_second, 2)}x, "
                f"kbit/s {_fmt(other.figures['wire_kbit_s'])} / {_fmt(first.figures['wire_kbit_s'])}"
            )
    return "\n".join(lines)


RELAY_FIGURES = ("latency_median_ms", "latency_p95_ms", "wire_kbit_s", "updates_per_s", "source_cpu_percent")


def relay_pairs(summaries: list[Summary]) -> list[dict[str, Any]]:
    """Each case measured both ways in the run: the relay's figures, the direct path's, and
    relay ÷ direct (above 1: the relay costs that much more)."""
    by_name = {(s.name, s.resolution, s.network, s.workload): s for s in summaries}
    pairs = []
    for s in sorted(summaries, key=_order):
        if not s.name.endswith("/relay"):
            continue
        direct = by_name.get((s.name.removesuffix("/relay"), s.resolution, s.network, s.workload))
        if direct is None:
            continue
        pairs.append(
            {
                "system": direct.name,
                "resolution": s.resolution,
                "network": s.network,
                "workload": s.workload,
                **side_by_side(("relay", s), ("direct", direct), RELAY_FIGURES),
                "relay_server_kbit_s": s.figures.get("relay_kbit_s"),
            }
        )
    return pairs


def relay_comparison(summaries: list[Summary]) -> str:
    """The relay's cost, one line per case measured both ways (same run, same display, same minute
    of the machine: the ratios are the figures to quote)."""
    lines = []
    for pair in relay_pairs(summaries):
        relay, direct, r = pair["relay"], pair["direct"], pair["ratio"]
        lines.append(
            f"{pair['resolution']} {pair['network']} {pair['workload']}: relay ÷ direct latency median "
            f"{_fmt(relay['latency_median_ms'])} / {_fmt(direct['latency_median_ms'])} ms = "
            f"{_fmt(r['latency_median_ms'], 2)}x, p95 {_fmt(relay['latency_p95_ms'])} / "
            f"{_fmt(direct['latency_p95_ms'])} ms = {_fmt(r['latency_p95_ms'], 2)}x, console's kbit/s "
            f"{_fmt(relay['wire_kbit_s'])} / {_fmt(direct['wire_kbit_s'])} = {_fmt(r['wire_kbit_s'], 2)}x; "
            f"coturn carried {_fmt(pair['relay_server_kbit_s'])} kbit/s (both legs, both ways)"
        )
    return "\n".join(lines)


BACKEND_FIGURES = (
    "latency_median_ms",
    "latency_p95_ms",
    "frames_decoded_per_s",
    "updates_per_s",
    "wire_kbit_s",
    "source_cpu_percent",
    "source_rss_mb",
    "server_cpu_percent",
    "setup_ms",
)


def backend_pairs(summaries: list[Summary]) -> list[dict[str, Any]]:
    """Each case measured on both backends in the run: the portal's figures, X11's, and
    portal ÷ x11 (above 1: the Wayland path costs that much more)."""
    by_name = {(s.name, s.resolution, s.network, s.workload): s for s in summaries}
    pairs = []
    for s in sorted(summaries, key=_order):
        if "/portal" not in s.name:
            continue
        x11 = by_name.get((s.name.replace("/portal", ""), s.resolution, s.network, s.workload))
        if x11 is None:
            continue
        pairs.append(
            {
                "system": x11.name,
                "resolution": s.resolution,
                "network": s.network,
                "workload": s.workload,
                **side_by_side(("portal", s), ("x11", x11), BACKEND_FIGURES),
            }
        )
    return pairs


def backend_comparison(summaries: list[Summary]) -> str:
    """The Wayland path beside the X11 one, one line per case measured both ways (same run, same
    link and minute of the machine: the ratios are the figures to quote)."""
    lines = []
    for pair in backend_pairs(summaries):

        def both(key: str, unit: str, digits: int = 0, pair: dict[str, Any] = pair) -> str:
            portal, x11, r = pair["portal"][key], pair["x11"][key], pair["ratio"][key]
            return f"{_fmt(portal, digits)} / {_fmt(x11, digits)}{unit} = {_fmt(r, 2)}x"

        lines.append(
            f"{pair['resolution']} {pair['network']} {pair['workload']}: portal ÷ x11 latency median "
            f"{both('latency_median_ms', ' ms')}, p95 {both('latency_p95_ms', ' ms')}, fps "
            f"{both('frames_decoded_per_s', '', 1)}, kbit/s {both('wire_kbit_s', '')}, agent CPU "
            f"{both('source_cpu_percent', ' %', 1)}, display server CPU "
            f"{both('server_cpu_percent', ' %', 1)}"
        )
    return "\n".join(lines)


def payload(
    measurements: list[Measurement], meta: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    summaries = summarize(measurements)
    return {
        "meta": meta,
        "summary": [asdict(s) for s in summaries],
        "best_reference": reference_pairs(summaries),
        "relay_comparison": relay_pairs(summaries),
        "backend_comparison": backend_pairs(summaries),
        **(extra or {}),
        "measurements": [asdict(m) for m in measurements],
    }


def write_json(
    path: Path, measurements: list[Measurement], meta: dict[str, Any], extra: dict[str, Any] | None = None
) -> None:
    """``extra``: more top-level sections (the drop scenario's results)."""
    text = json.dumps(payload(measurements, meta, extra), indent=2) + "\n"
    path.write_text(text, encoding="utf-8")


CHART_PANELS = (
    ("glass-to-glass latency, median (ms)", "latency_median_ms"),
    ("content updates shown per second", "updates_per_s"),
    ("bytes on the wire (kbit/s)", "wire_kbit_s"),
    ("sender CPU (% of one core)", "source_cpu_percent"),
    ("display server CPU (% of one core): Xvfb; mutter + Xwayland + PipeWire", "server_cpu_percent"),
)


def chart(path: Path, summaries: list[Summary], title: str) -> None:
    """Four panels of grouped bars: each case (network/workload, resolution) × system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys((s.resolution, s.network, s.workload) for s in sorted(summaries, key=_order)))
    consoles = {s.console for s in summaries if not is_reference(s.name)}

    def series(s: Summary) -> str:
        """veo in several console sizes: one series per size (a reference runs in one)."""
        return f"{s.name} @{s.console}" if len(consoles) > 1 and not is_reference(s.name) else s.name

    names = sorted({series(s) for s in summaries}, key=lambda n: (is_reference(n), n))
    index = {(s.resolution, s.network, s.workload, series(s)): s for s in summaries}
    fig, axes = plt.subplots(
        len(CHART_PANELS), 1, figsize=(max(8, 0.9 * len(cases) + 3), 3.2 * len(CHART_PANELS))
    )
    width = 0.8 / max(1, len(names))
    labels = [f"{w}\n{n}\n{r}" for r, n, w in cases]
    for ax, (panel, key) in zip(axes, CHART_PANELS, strict=True):
        for offset, name in enumerate(names):
            values = []
            for r, n, w in cases:
                s = index.get((r, n, w, name))
                value = s.figures.get(key) if s is not None else None
                values.append(value if value is not None else 0.0)
            positions = [i + (offset - (len(names) - 1) / 2) * width for i in range(len(cases))]
            ax.bar(positions, values, width, label=name)
        ax.set_title(panel, fontsize=10)
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.grid(axis="y", alpha=0.3)
        if key == "wire_kbit_s":
            ax.set_yscale("symlog", linthresh=10)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


@dataclass(frozen=True)
class Target:
    """One goal of issue 5, checked on veo's medians (a row per system and matching case)."""

    text: str
    key: str
    limit: float
    at_most: bool = True
    resolution: str | None = None
    network: str | None = None
    workloads: tuple[str, ...] = ()
    versus_vnc: float | None = None  # compare with VNC's figure times this factor instead of ``limit``


_1080, _720 = "1920x1080", "1280x720"
_MOVING = ("scrolling", "animation")
TARGETS = (
    Target("typing 1080p unshaped, latency median <= 40 ms", "latency_median_ms", 40,
           resolution=_1080, network="unshaped", workloads=("typing",)),
    Target("typing 1080p unshaped, latency p95 <= 70 ms", "latency_p95_ms", 70,
           resolution=_1080, network="unshaped", workloads=("typing",)),
    Target("typing 1080p office, latency median <= 70 ms", "latency_median_ms", 70,
           resolution=_1080, network="office", workloads=("typing",)),
    Target("latency median never above VNC's", "latency_median_ms", 0, versus_vnc=1.0),
    Target("scrolling/animation 1080p unshaped >= 30 fps", "frames_decoded_per_s", 30, at_most=False,
           resolution=_1080, network="unshaped", workloads=_MOVING),
    Target("scrolling/animation 720p unshaped >= 60 fps", "frames_decoded_per_s", 60, at_most=False,
           resolution=_720, network="unshaped", workloads=_MOVING),
    Target("idle <= 10 kbit/s", "wire_kbit_s", 10, workloads=("idle",)),
    Target("typing <= 150 kbit/s", "wire_kbit_s", 150, workloads=("typing",)),
    Target("typing/scrolling bytes <= half of VNC's", "wire_kbit_s", 0,
           workloads=("typing", "scrolling"), versus_vnc=0.5),
    Target("poor link, latency median <= 300 ms", "latency_median_ms", 300, network="poor"),
    Target("poor link, no stall over 2 s", "max_gap_ms", 2000, network="poor"),
    Target("agent CPU idle <= 2 %", "source_cpu_percent", 2, workloads=("idle",)),
    Target("agent CPU typing <= 10 %", "source_cpu_percent", 10, workloads=("typing",)),
    Target("agent CPU scrolling 1080p <= 30 %", "source_cpu_percent", 30, resolution=_1080,
           workloads=("scrolling",)),
    Target("session set-up median <= 1 s", "setup_ms", 1000),
)  # fmt: skip


def check_targets(summaries: list[Summary]) -> list[tuple[str, str, str, str]]:
    """(target, case, figure, verdict) for every veo case a target applies to.

    A latency or frame-rate target on a moving workload where nothing was decoded is a "no" (the
    picture stalled); idle has no latency. Set-up time is one figure per session.
    """
    vnc = {(s.resolution, s.network, s.workload): s for s in summaries if s.name == "vnc"}
    rows = []
    for target in TARGETS:
        sessions: set[tuple[str, str, str, str]] = set()
        for s in sorted(summaries, key=lambda s: (s.name, s.resolution, s.console, s.network, s.workload)):
            if is_reference(s.name) or (target.resolution and s.resolution != target.resolution):
                continue
            if target.network and s.network != target.network:
                continue
            if target.workloads and s.workload not in target.workloads:
                continue
            moving_figure = target.key in (
                "latency_median_ms",
                "latency_p95_ms",
                "updates_per_s",
                "frames_decoded_per_s",
                "max_gap_ms",
            )
            if moving_figure and s.workload == "idle":
                continue
            if target.key == "setup_ms":
                if (s.name, s.resolution, s.console, s.network) in sessions:
                    continue
                sessions.add((s.name, s.resolution, s.console, s.network))
            value = s.figures.get(target.key)
            limit: float | None = target.limit
            if target.versus_vnc is not None:
                ref = vnc.get((s.resolution, s.network, s.workload))
                ref_value = ref.figures.get(target.key) if ref is not None else None
                limit = None if ref_value is None else ref_value * target.versus_vnc
            if limit is None or (value is None and not moving_figure):
                continue
            if value is None:
                verdict = "no (nothing decoded)"
            else:
                verdict = "yes" if (value <= limit if target.at_most else value >= limit) else "no"
            case = f"{s.name} {s.resolution}{console_label(s.console)} {s.network}"
            if target.key != "setup_ms":
                case += f" {s.workload}"
            figure = "-" if value is None else f"{value:.1f}"
            rows.append((target.text, case, f"{figure} (limit {limit:.0f})", verdict))
    return rows


def targets_text(summaries: list[Summary]) -> str:
    rows = check_targets(summaries)
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["targets of issue 5 (veo's medians):"]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    met = sum(r[3] == "yes" for r in rows)
    lines.append(f"  {met} of {len(rows)} met")
    return "\n".join(lines)
