"""Where a frame's milliseconds go: the agent's per-frame stage timeline joined with the probe.

With ``VEO_STREAM_TIMELINE=1`` (the bench sets it) the agent logs one line per frame sent
(issue 18's contract, section 3)::

    frame-timeline pts=<pts> wake=<t> grab=<t> compare=<t> convert=<t> encode_start=<t>
        encode_end=<t> sent=<t> bytes=<n> width=<w> height=<h>

every ``<t>`` being ``time.time()`` in ms, the wall clock the workload stamps its pattern with and
the page's ``Date.now()`` reads. This module turns the lines of one measured window into
per-stage medians and 95th percentiles:

* ``wake_grab`` .. ``encode_sent``: the agent's stages, from the change being noticed to the last
  RTP packet of the frame leaving aiortc's sender;
* ``draw_wake``: from the workload drawing the pattern value to the agent noticing the change
  (X damage delivery, or the repeat timer);
* ``sent_shown``: the browser's part (the link, the jitter buffer, decoding, rendering): from the
  frame's ``sent`` to the probe's first sight of the pattern value it carried.

The join: a pattern value ``v`` first seen at page time ``t`` was drawn at
``t - ((t - v) mod 65536)`` (the latest time before ``t`` with those low 16 bits); the frame that
carried it first is the first one grabbed at or after that time (the workload flushes content and
pattern together, so a grab before the drawing cannot show it). Pure functions: unit-tested on
recorded lines.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from veo.bench.stream.measure import percentile
from veo.bench.stream.pattern import MODULUS

MARK = "frame-timeline"
_FIELD = re.compile(r"(\w+)=(-?[0-9.]+)")
_TIMES = ("wake", "grab", "compare", "convert", "encode_start", "encode_end", "sent")
#: (name, from, to) of each stage in the JSON; ``draw`` and ``shown`` come from the probe
STAGES = (
    ("draw_wake", "draw", "wake"),
    ("wake_grab", "wake", "grab"),
    ("grab_compare", "grab", "compare"),
    ("compare_convert", "compare", "convert"),
    ("convert_queue", "convert", "encode_start"),
    ("encode", "encode_start", "encode_end"),
    ("encode_sent", "encode_end", "sent"),
    ("sent_shown", "sent", "shown"),
    ("draw_shown", "draw", "shown"),
)
#: a frame seen later than this after it was sent is not the one that carried the value
MAX_SHOWN_MS = 10_000.0


@dataclass(frozen=True)
class Frame:
    """One ``frame-timeline`` line: its stamps (ms, wall clock), bytes and encoded size."""

    times: dict[str, float]
    bytes: int
    width: int
    height: int


def parse_line(line: str) -> Frame | None:
    """The frame a log line describes, or None when it is not a complete ``frame-timeline`` line."""
    at = line.find(MARK + " ")
    if at < 0:
        return None
    fields = dict(_FIELD.findall(line[at + len(MARK) :]))
    try:
        times = {name: float(fields[name]) for name in _TIMES}
        return Frame(times, int(float(fields.get("bytes", "0"))), int(float(fields.get("width", "0"))),
                     int(float(fields.get("height", "0"))))  # fmt: skip
    except (KeyError, ValueError):
        return None


def parse(lines: Iterable[str], start_ms: float | None = None, end_ms: float | None = None) -> list[Frame]:
    """Frames whose ``grab`` falls in [start_ms, end_ms] (a measured window), in grab order."""
    frames = []
    for line in lines:
        frame = parse_line(line)
        if frame is None:
            continue
        grab = frame.times["grab"]
        if (start_ms is not None and grab < start_ms) or (end_ms is not None and grab > end_ms):
            continue
        frames.append(frame)
    frames.sort(key=lambda f: f.times["grab"])
    return frames


def drawn_at(seen_ms: float, value: int) -> float:
    """When a pattern value first seen at ``seen_ms`` was drawn: the latest earlier wall-clock ms
    whose low 16 bits are ``value``."""
    return seen_ms - ((seen_ms - value) % MODULUS)


def join(frames: Sequence[Frame], sightings: Sequence[tuple[float, int]]) -> list[dict[str, float]]:
    """Per sighting (page time, pattern value): every stamp of the frame that first carried the
    value, plus ``draw`` and ``shown``. Sightings no frame explains are left out."""
    grabs = [f.times["grab"] for f in frames]
    joined = []
    for seen, value in sightings:
        draw = drawn_at(seen, value)
        index = bisect.bisect_left(grabs, draw)
        if index >= len(frames):
            continue
        frame = frames[index]
        sent = frame.times["sent"]
        if not draw <= sent <= seen or seen - sent > MAX_SHOWN_MS:
            continue
        joined.append({**frame.times, "draw": draw, "shown": seen})
    return joined


def stage_figures(
    frames: Sequence[Frame], sightings: Sequence[tuple[float, int]]
) -> dict[str, dict[str, float | int | None]]:
    """``{stage: {median, p95, n}}`` in ms. The agent's own stages over every frame of the window;
    the stages that need the probe (``draw_*``, ``*_shown``) over the joined frames."""
    joined = join(frames, sightings)
    out: dict[str, dict[str, float | int | None]] = {}
    for name, first, second in STAGES:
        rows: Sequence[dict[str, float]] = (
            joined if "draw" in (first, second) or "shown" in (first, second) else [f.times for f in frames]
        )
        values = [row[second] - row[first] for row in rows]
        out[name] = {
            "median": _round(percentile(values, 0.5)),
            "p95": _round(percentile(values, 0.95)),
            "n": len(values),
        }
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def summary_line(figures: dict[str, dict[str, float | int | None]]) -> str:
    """One short line: each stage's median (p95) in ms."""

    def f(value: float | int | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    parts = [
        f"{name} {f(stats['median'])} ({f(stats['p95'])})" for name, stats in figures.items() if stats["n"]
    ]
    return "stages ms median (p95): " + (", ".join(parts) if parts else "no frame-timeline lines")


def per_case(measurements: Sequence[Any]) -> list[dict[str, Any]]:
    """The JSON's ``stages`` section: per case (system, resolution, console, network, workload),
    each stage's median over the runs of the runs' medians and p95s (a case measured three times
    reads like the table's medians)."""
    groups: dict[tuple[str, str, str, str, str], list[dict[str, dict[str, float | int | None]]]] = {}
    for m in measurements:
        if m.stages:
            key = (m.name, m.resolution, m.console or "", m.network, m.workload)
            groups.setdefault(key, []).append(m.stages)
    out = []
    for (name, resolution, console, network, workload), runs in groups.items():
        stages: dict[str, dict[str, float | None]] = {}
        for stage, _, _ in STAGES:
            stages[stage] = {
                figure: _round(
                    percentile(
                        [float(v) for r in runs if (v := r.get(stage, {}).get(figure)) is not None], 0.5
                    )
                )
                for figure in ("median", "p95")
            }
        out.append(
            {"system": name, "resolution": resolution, "console": console, "network": network,
             "workload": workload, "runs": len(runs), "stages": stages}
        )  # fmt: skip
    return out
