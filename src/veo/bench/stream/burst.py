"""The burst scenario of issue 18: on the poor link, typing, a 2-s scrolling burst, typing again.

The target: "poor link, after a 2-s burst: back to the typing latency within 2 s". A congestion
controller that overreacts to the burst (a bitrate estimate that collapses, a queue that it lets
fill) shows here as typing that stays slow long after the screen stopped scrolling.

The workload's ``burst`` mode types (8 characters a second) for :data:`.workload.BURST_AT`
seconds, then covers the screen with a document that scrolls at 60 steps a second for
:data:`.workload.BURST_SECONDS`, hides it and types again; it prints the burst's start and end
with ``time.time()``, the clock the probe's page time and the pattern share. From the probe's
sightings (each new pattern value and when it first showed) the scenario reads:

* the **pre-burst typing latency**: median of the samples drawn before the burst;
* the **threshold** "back to the typing latency": the pre-burst 90th percentile, and at least the
  median + :data:`TOLERANCE_MS`. On the poor link one sample in ~200 packets meets a loss and its
  retransmission (+1 RTT, 80 ms), and the spread of the samples before the burst is the link's own
  noise, so "back" means "inside the range nine in ten samples fell in before";
* the **recovery**: from the burst's end to the first shown sample of :data:`RUN` consecutive
  samples (drawn after the end) all at or under the threshold: one lucky frame is not a recovery,
  three in a row at 8 characters a second is ~0.4 s of typing that feels normal again;
* **stalls**: gaps over 1 s between two new values shown, from the burst's start on;
* **updates/s during the burst**: values drawn during it that reached the console, per second.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from veo.bench.stream.measure import percentile
from veo.bench.stream.timeline import drawn_at
from veo.bench.stream.workload import BURST_AT, BURST_SECONDS

if TYPE_CHECKING:
    from veo.bench.stream.display import Display
    from veo.bench.stream.lab import Lab
    from veo.bench.stream.procs import Processes
    from veo.bench.stream.veo_pipeline import VeoSession

TOLERANCE_MS = 30.0
RUN = 3
STALL_MS = 1000.0
#: typing after the burst, seconds: room for a slow recovery to show (the aim is 2 s)
AFTER_SECONDS = 10.0
TARGET_MS = 2000.0


@dataclass
class BurstResult:
    """One burst: typing latency before, how long it took to come back after, and the stalls."""

    resolution: str
    network: str
    burst_seconds: float
    before_median_ms: float | None = None
    before_p90_ms: float | None = None
    threshold_ms: float | None = None
    #: ms from the burst's end to the first of RUN samples back under the threshold
    recovery_ms: float | None = None
    updates_per_s_burst: float | None = None
    latency_median_burst_ms: float | None = None
    after_median_ms: float | None = None
    #: gaps over 1 s between new values shown, from the burst's start (ms, page time from the start)
    stalls: list[tuple[float, float]] = field(default_factory=list)
    max_gap_ms: float | None = None
    burst_start_ms: float | None = None
    burst_end_ms: float | None = None
    #: (ms from the burst's end, latency ms) of every sample from the burst's start on
    samples: list[tuple[float, float]] = field(default_factory=list)
    stages: dict[str, Any] | None = None
    #: per stall: frames the agent logged as sent while nothing new showed, and their bytes (none:
    #: the agent held back; many: they were queued on the link or in the browser)
    sent_in_stalls: list[tuple[int, int]] = field(default_factory=list)
    #: content changes the workload drew per second in the 4 s after the burst (8 = it kept typing;
    #: less: the loaded machine slowed the workload itself, not the stream)
    drawn_after_per_s: float | None = None
    #: scroll steps the workload drew per second during the burst (60 asked; what it managed)
    drawn_burst_per_s: float | None = None
    note: str | None = None

    def line(self) -> str:
        def f(value: float | None, unit: str = " ms") -> str:
            return "none" if value is None else f"{value:.0f}{unit}"

        recovery = "never within the run" if self.recovery_ms is None else f"{self.recovery_ms / 1000:.2f} s"
        text = (
            f"burst {self.resolution} {self.network}, {self.burst_seconds:g}-s scrolling burst: typing "
            f"{f(self.before_median_ms)} median before (back = <= {f(self.threshold_ms)}), back after "
            f"{recovery} (aim <= 2 s); during the burst {f(self.updates_per_s_burst, '')} updates/s "
            f"of {f(self.drawn_burst_per_s, '')} drawn, "
            f"latency {f(self.latency_median_burst_ms)}; after {f(self.after_median_ms)} median; "
            f"stalls > 1 s: {len(self.stalls)} (longest gap {f(self.max_gap_ms)}"
            + "".join(f", {n} frames / {b} bytes sent in one" for n, b in self.sent_in_stalls)
            + f"); the workload drew {f(self.drawn_after_per_s, '')}/s after the burst"
        )
        return text + (f"; {self.note}" if self.note else "")

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def analyse(sightings: Sequence[tuple[float, int]], start: float, end: float, result: BurstResult) -> None:
    """Fill ``result`` from the probe's (page time, value) sightings and the burst's start and end
    (wall clock ms). Pure: unit-tested."""
    result.burst_start_ms, result.burst_end_ms = start, end
    rows = [(seen, drawn_at(seen, value)) for seen, value in sightings]
    before = [seen - drawn for seen, drawn in rows if drawn < start and seen < start]
    during = [(seen, drawn) for seen, drawn in rows if start <= drawn < end]
    after = [(seen, seen - drawn) for seen, drawn in rows if drawn >= end]
    result.before_median_ms = percentile(before, 0.5)
    result.before_p90_ms = percentile(before, 0.9)
    if result.before_median_ms is not None and result.before_p90_ms is not None:
        result.threshold_ms = max(result.before_p90_ms, result.before_median_ms + TOLERANCE_MS)
    result.updates_per_s_burst = len(during) / max((end - start) / 1000, 1e-3)
    result.latency_median_burst_ms = percentile([seen - drawn for seen, drawn in during], 0.5)
    result.after_median_ms = percentile([lat for _, lat in after], 0.5)
    result.samples = [(round(seen - end, 1), round(seen - drawn, 1)) for seen, drawn in rows if seen >= start]
    if result.threshold_ms is not None:
        for i in range(len(after) - RUN + 1):
            if all(lat <= result.threshold_ms for _, lat in after[i : i + RUN]):
                result.recovery_ms = max(0.0, after[i][0] - end)
                break
    shown = [seen for seen, _ in rows if seen >= start]
    gaps = [(a, b - a) for a, b in zip([start, *shown], shown, strict=False)]
    result.max_gap_ms = max((gap for _, gap in gaps), default=None)
    result.stalls = [(round(at - start, 1), round(gap, 1)) for at, gap in gaps if gap > STALL_MS]


def sent_in(
    frames: Sequence[Any], start: float, stalls: Sequence[tuple[float, float]]
) -> list[tuple[int, int]]:
    """Per stall (ms from ``start``, length): the frames sent inside it and their bytes."""
    out = []
    for at, gap in stalls:
        inside = [f for f in frames if start + at < f.times["sent"] < start + at + gap]
        out.append((len(inside), sum(f.bytes for f in inside)))
    return out


def drawn_rate(lines: list[str], from_mono: float, seconds: float) -> float | None:
    """The workload's content changes per second over [from_mono, from_mono + seconds] (its
    ``steps N T`` lines, monotonic clock: the last report before the window to the first after
    it), or None without reports on both sides."""
    steps = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "steps":
            steps.append((float(parts[2]), int(parts[1])))
    before = [s for s in steps if s[0] <= from_mono]
    after = [s for s in steps if s[0] >= from_mono + seconds]
    if not before or not after:
        return None
    (t0, n0), (t1, n1) = before[-1], after[0]
    return (n1 - n0) / (t1 - t0)


def burst_times(lines: list[str]) -> tuple[float | None, float | None]:
    """The burst's start and end, wall clock ms, from the workload's ``burst start|end T [M]``."""
    start = end = None
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "burst":
            if parts[1] == "start":
                start = float(parts[2]) * 1000
            elif parts[1] == "end":
                end = float(parts[2]) * 1000
    return start, end


def run_burst(session: VeoSession, display: Display, lab: Lab, procs: Processes, network: str) -> BurstResult:
    """Run the ``burst`` workload in ``session`` (on the shaped link) and read the probe."""
    from veo.bench.stream import timeline
    from veo.bench.stream.runner import WorkloadOutput  # the runner imports this module

    result = BurstResult(f"{display.width}x{display.height}", network, BURST_SECONDS)
    warmup = 2.0
    argv = [sys.executable, "-m", "veo.bench.stream.workload", "burst", str(display.width),
            str(display.height), "--burst-at", str(BURST_AT + warmup)]  # fmt: skip
    app = procs.start("workload-burst", lab.in_user(argv), env=display.env(), stdout_pipe=True)
    try:
        output = WorkloadOutput(app)
        output.ready(60)
        time.sleep(warmup)
        session.alive()
        session.probe.reset()
        window_start = time.time() * 1000
        deadline = time.monotonic() + BURST_AT + BURST_SECONDS + AFTER_SECONDS + 5
        end = None
        while time.monotonic() < deadline:
            time.sleep(0.5)
            output.steps()  # drains stdout
            start, end = burst_times(output.lines)
            if end is not None and time.time() * 1000 >= end + AFTER_SECONDS * 1000:
                break
        session.alive()
        start, end = burst_times(output.lines)
        if start is None or end is None:
            result.note = "the workload did not report the burst"
            return result
        sightings = session.probe.sightings()
        analyse(sightings, start, end, result)
        with contextlib.suppress(Exception):
            frames = timeline.parse(session.log.lines(), window_start, time.time() * 1000)
            result.stages = timeline.stage_figures(frames, sightings)
            result.sent_in_stalls = sent_in(frames, start, result.stalls)
        marks = {
            p[1]: float(p[3])
            for p in (line.split() for line in output.lines)
            if len(p) == 4 and p[0] == "burst"
        }
        if "end" in marks:
            result.drawn_after_per_s = drawn_rate(output.lines, marks["end"], 4.0)
        if "start" in marks:
            result.drawn_burst_per_s = drawn_rate(output.lines, marks["start"], BURST_SECONDS)
        if result.before_median_ms is None:
            result.note = "no typing sample before the burst"
    finally:
        procs.stop(app)
    return result


def target_rows(section: list[dict[str, Any]]) -> list[Any]:
    """Issue 18's check "poor link, after a 2-s burst: back to the typing latency within 2 s",
    one row per burst of the run (:func:`.targets.scenario_rows` calls it on the JSON section)."""
    from veo.bench.stream.targets import TargetRow

    check, target = "poor link, after a 2-s burst", "back to the typing latency within 2 s"
    rows = []
    for burst in section:
        recovery = burst.get("recovery_ms")
        threshold = burst.get("threshold_ms")
        figures = (
            f"back after {'never' if recovery is None else f'{recovery / 1000:.2f} s'} "
            f"(typing {burst.get('before_median_ms') or 0:.0f} ms before, "
            f"back = <= {threshold or 0:.0f} ms), "
            f"{len(burst.get('stalls') or [])} stalls > 1 s"
        )
        met = None if threshold is None else recovery is not None and recovery <= TARGET_MS
        rows.append(TargetRow(check, target, f"veo {burst['resolution']} {burst['network']}", figures, met))
    return rows or [TargetRow(check, target, "-", "not measured in this run", None)]
