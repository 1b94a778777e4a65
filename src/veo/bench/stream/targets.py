"""Issue 18's targets ("How to prove it"), checked on a run's medians: met, not met, or not judged.

Each check gives one row per case it applies to, with the figures it was judged on; a check with
no case in the run gives one row saying so (``met`` None), so the whole table always prints and
the JSON always holds every check. "veo" here is the agent's default codec on the direct X11 path
(``veo/auto`` or ``veo/h264``); the VP8 check reads ``veo/vp8-console`` beside it. "The best VNC"
is the case's reference with the lowest latency median (:func:`.report.best_reference`).

Two checks come from scenarios of their own (helper BENCH-SCEN's modules): the burst on the poor
link (:mod:`.burst`) and readability at 4K (:mod:`.readability`). Each such module offers
``target_rows(section) -> list[TargetRow]`` over its section of the run's JSON (``extra["burst"]``,
``extra["readability"]``); :func:`scenario_rows` calls it when the run has that section, and
otherwise says "not measured in this run".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from veo.bench.stream.report import Summary, best_reference, console_label

UHD, FHD = "3840x2160", "1920x1080"
PRIMARY = ("veo/auto", "veo/h264")
VP8_CONSOLE = "veo/vp8-console"


@dataclass(frozen=True)
class TargetRow:
    """One check on one case: what was asked, where, the figures, and whether it was met
    (None: not judged, the run lacks what the check needs)."""

    check: str
    target: str
    case: str
    figures: str
    met: bool | None

    @property
    def verdict(self) -> str:
        return "not judged" if self.met is None else ("met" if self.met else "NOT met")

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def _f(value: float | None, unit: str = " ms", digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def _case(s: Summary) -> str:
    return f"{s.name} {s.resolution}{console_label(s.console)} {s.network} {s.workload}"


def _all(parts: list[bool | None]) -> bool | None:
    """Met when every part is; not met as soon as one measured part is not; else not judged."""
    if any(p is False for p in parts):
        return False
    return None if any(p is None for p in parts) else True


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def _primary(summaries: list[Summary], resolution: str | None = None, workload: str | None = None,
             network: str | None = None) -> list[Summary]:  # fmt: skip
    return [
        s
        for s in summaries
        if s.name in PRIMARY
        and (resolution is None or s.resolution == resolution)
        and (workload is None or s.workload == workload)
        and (network is None or s.network == network)
    ]


def _below_best(summaries: list[Summary], s: Summary) -> tuple[bool | None, str]:
    best = best_reference(summaries, s)
    if best is None:
        return None, "no VNC reference measured"
    ref = best.figures.get("latency_median_ms")
    mine = s.figures.get("latency_median_ms")
    met = None if mine is None or ref is None else mine < ref
    return met, f"best VNC {best.name} {_f(ref)}"


Check = Callable[[list[Summary]], list[TargetRow]]


def _uhd_typing(summaries: list[Summary]) -> list[TargetRow]:
    check = "4K screen, 1920-px console: typing latency"
    target = "<= 40 ms median, <= 70 ms p95, and below the best VNC's"
    rows = []
    for s in _primary(summaries, UHD, "typing"):
        if not s.console.startswith("1920x"):
            continue
        median, p95 = s.figures.get("latency_median_ms"), s.figures.get("latency_p95_ms")
        below, ref = _below_best(summaries, s)
        met = _all([_at_most(median, 40), _at_most(p95, 70), below])
        rows.append(TargetRow(check, target, _case(s), f"median {_f(median)}, p95 {_f(p95)}; {ref}", met))
    return rows or [TargetRow(check, target, "-", "not measured in this run (--resolutions 3840x2160 "
                              "--console-sizes 1920x1080 --workloads typing)", None)]  # fmt: skip


def _fhd_below_vnc(summaries: list[Summary]) -> list[TargetRow]:
    check = "every workload and link at 1080p"
    target = "latency median below the best VNC reference's"
    rows = []
    for s in _primary(summaries, FHD):
        if s.workload == "idle":
            continue
        below, ref = _below_best(summaries, s)
        rows.append(
            TargetRow(check, target, _case(s), f"{_f(s.figures.get('latency_median_ms'))}; {ref}", below)
        )
    return rows or [TargetRow(check, target, "-", "not measured in this run", None)]


def _vp8(summaries: list[Summary]) -> list[TargetRow]:
    check = "VP8 console (Firefox)"
    target = "typing <= 60 kbit/s and <= 10 % CPU; latency within 10 ms of H.264"
    rows = []
    for s in summaries:
        if s.name != VP8_CONSOLE or s.workload != "typing":
            continue
        kbit, cpu = s.figures.get("wire_kbit_s"), s.figures.get("source_cpu_percent")
        mine = s.figures.get("latency_median_ms")
        h264 = next(
            (h for h in summaries if h.name in PRIMARY and h.console == s.console and
             (h.resolution, h.network, h.workload) == (s.resolution, s.network, s.workload)),
            None,
        )  # fmt: skip
        theirs = h264.figures.get("latency_median_ms") if h264 is not None else None
        close = None if mine is None or theirs is None else mine - theirs <= 10
        figures = f"{_f(kbit, ' kbit/s')}, CPU {_f(cpu, ' %', 1)}, latency {_f(mine)} vs " + (
            f"{h264.name} {_f(theirs)}" if h264 is not None else "no H.264 case in the run"
        )
        met = _all([_at_most(kbit, 60), _at_most(cpu, 10), close])
        rows.append(TargetRow(check, target, _case(s), figures, met))
    return rows or [
        TargetRow(check, target, "-", "not measured in this run (--codec auto,vp8-console)", None)
    ]


def _uhd_scrolling(summaries: list[Summary]) -> list[TargetRow]:
    check = "4K screen: scrolling"
    target = ">= 30 fps delivered, agent <= 50 % of a core, bytes <= 1.2x the 1080p figure"
    rows = []
    for s in _primary(summaries, UHD, "scrolling"):
        fps, cpu, kbit = (
            s.figures.get(k) for k in ("frames_decoded_per_s", "source_cpu_percent", "wire_kbit_s")
        )
        fhd = [f for f in _primary(summaries, FHD, "scrolling", s.network) if f.name == s.name]
        fhd.sort(key=lambda f: f.console != s.console)  # the same console's figure if there is one
        base = fhd[0].figures.get("wire_kbit_s") if fhd else None
        bytes_ok = None if kbit is None or base is None or base <= 0 else kbit <= 1.2 * base
        figures = f"{_f(fps, ' fps', 1)}, agent {_f(cpu, ' %', 1)}, {_f(kbit, ' kbit/s')} vs 1080p " + (
            _f(base, " kbit/s") if base is not None else "not in this run"
        )
        met = _all([_at_least(fps, 30), _at_most(cpu, 50), bytes_ok])
        rows.append(TargetRow(check, target, _case(s), figures, met))
    return rows or [TargetRow(check, target, "-", "not measured in this run", None)]


def _limit(check: str, target: str, resolution: str, workload: str, key: str, limit: float, unit: str,
           network: str | None = None) -> Check:  # fmt: skip
    def rows(summaries: list[Summary]) -> list[TargetRow]:
        found = [
            TargetRow(
                check, target, _case(s), _f(s.figures.get(key), unit, 1), _at_most(s.figures.get(key), limit)
            )
            for s in _primary(summaries, resolution, workload, network)
        ]
        return found or [TargetRow(check, target, "-", "not measured in this run", None)]

    return rows


def _poor_scrolling(summaries: list[Summary]) -> list[TargetRow]:
    check = "poor link, 1080p scrolling"
    target = "<= 200 ms median, no stall > 1 s, >= 5 updates/s"
    rows = []
    for s in _primary(summaries, FHD, "scrolling", "poor"):
        median, gap, ups = (s.figures.get(k) for k in ("latency_median_ms", "max_gap_ms", "updates_per_s"))
        figures = f"median {_f(median)}, longest stall {_f(gap)}, {_f(ups, ' updates/s', 1)}"
        met = _all([_at_most(median, 200), _at_most(gap, 1000), _at_least(ups, 5)])
        rows.append(TargetRow(check, target, _case(s), figures, met))
    return rows or [TargetRow(check, target, "-", "not measured in this run", None)]


CHECKS: tuple[Check, ...] = (
    _uhd_typing,
    _fhd_below_vnc,
    _vp8,
    _uhd_scrolling,
    _limit(
        "1080p scrolling agent CPU", "<= 30 % of a core", FHD, "scrolling", "source_cpu_percent", 30, " %"
    ),
    _limit("1080p typing p95, unshaped", "<= 70 ms", FHD, "typing", "latency_p95_ms", 70, " ms", "unshaped"),
    _poor_scrolling,
)

#: the scenarios' checks: (JSON section and module, check, target)
SCENARIOS = (
    ("burst", "poor link, after a 2-s burst", "back to the typing latency within 2 s"),
    ("readability", "readability", "text rendered at 11 px on the 4K screen is recognisable at fit size"),
)


def scenario_rows(extra: dict[str, Any]) -> list[TargetRow]:
    """The scenario checks: each module's ``target_rows(section)`` when the run has its section."""
    rows: list[TargetRow] = []
    for section, check, target in SCENARIOS:
        data = extra.get(section)
        judge: Callable[[Any], list[TargetRow]] | None = None
        if data is not None:
            try:
                judge = getattr(importlib.import_module(f"veo.bench.stream.{section}"), "target_rows", None)
            except ImportError:
                judge = None
        if judge is None:
            rows.append(TargetRow(check, target, "-", "not measured in this run", None))
        else:
            rows.extend(judge(data))
    return rows


def check_issue18(summaries: list[Summary], extra: dict[str, Any] | None = None) -> list[TargetRow]:
    """Every check of issue 18's table, in the issue's order."""
    return [row for check in CHECKS for row in check(summaries)] + scenario_rows(extra or {})


def issue18_text(rows: list[TargetRow]) -> str:
    """The table as printed: check, case, figures, verdict; then how many were met."""
    if not rows:
        return ""
    table = [(r.check, r.case, r.figures, r.verdict) for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(4)]
    lines = ["targets of issue 18 (medians; veo = the default codec, direct path):"]
    targets = dict.fromkeys((r.check, r.target) for r in rows)
    lines += [f"  {check}: {target}" for check, target in targets]
    lines.append("")
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)).rstrip() for t in table]
    judged = [r for r in rows if r.met is not None]
    met = sum(bool(r.met) for r in judged)
    lines.append(f"  {met} of {len(judged)} judged met; {len(rows) - len(judged)} not judged")
    return "\n".join(lines)
