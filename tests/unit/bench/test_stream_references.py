"""Issue 18 in ``veo bench stream``: three VNC references, the best one per case, big screens and
console sizes, and the issue's targets table."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from veo.bench.main import parser
from veo.bench.stream import cli, runner, targets
from veo.bench.stream.lab import NETWORKS
from veo.bench.stream.report import Measurement, best_reference, summarize, table, write_json
from veo.bench.stream.vnc_pipeline import VNC_SERVERS, novnc_url


def _m(
    system: str,
    latency: float | None,
    kbit: float = 100.0,
    workload: str = "typing",
    resolution: str = "1920x1080",
    network: str = "unshaped",
    console: str | None = "1920x1200",
    codec: str = "auto",
    **more: Any,
) -> Measurement:
    figures: dict[str, Any] = dict(
        system=system, codec=codec if system == "veo" else "rfb", resolution=resolution, network=network,
        workload=workload, run=1, seconds=8.0, latency_median_ms=latency,
        latency_p95_ms=None if latency is None else latency * 1.5,
        latency_samples=0 if latency is None else 60, updates_per_s=8.0,
        frames_decoded_per_s=8.0 if system == "veo" else None, max_gap_ms=200.0, wire_kbit_s=kbit,
        app_kbit_s=kbit if system == "veo" else None, source_cpu_percent=5.0, source_rss_mb=150.0,
        console_cpu_percent=10.0, console_rss_mb=300.0, workload_cpu_percent=1.0,
        console=console if system == "veo" else "1920x1200",
    )  # fmt: skip
    figures.update(more)
    return Measurement(**figures)


# ---------------------------------------------------------------- flags and plan


def test_vnc_defaults_to_the_three_references_and_smoke_to_none() -> None:
    def choice(*argv: str) -> tuple[bool, list[str]]:
        args = parser().parse_args(["stream", *argv])
        return cli.vnc_choice(args, cli.MODE_DEFAULTS[args.mode])

    assert choice() == (True, ["x11vnc", "x11vnc-tuned", "x0vncserver"])
    assert choice("--full") == (True, ["x11vnc", "x11vnc-tuned", "x0vncserver"])
    assert choice("--smoke") == (False, [])  # make bench-smoke stays as short as it was
    assert choice("--vnc", "x0vncserver,x11vnc") == (True, ["x0vncserver", "x11vnc"])
    assert choice("--smoke", "--vnc", "x11vnc-tuned") == (True, ["x11vnc-tuned"])
    assert choice("--no-vnc") == (False, [])
    assert choice("--no-vnc", "--vnc", "x11vnc") == (False, [])
    assert list(cli.REFERENCES) == list(VNC_SERVERS)  # the CLI's names are the servers'


def test_an_unknown_vnc_server_gets_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["stream", "--vnc", "x11vnc,realvnc"])
    assert "unknown VNC server realvnc" in capsys.readouterr().err


def test_big_screens_and_console_sizes_parse() -> None:
    args = parser().parse_args(
        ["stream", "--resolutions", "3840x2160,1440p,4K,1080p", "--console-sizes", "1920x1080,1366x768"]
    )
    assert args.resolutions == [(3840, 2160), (2560, 1440), (1920, 1080)]  # 4K once
    assert args.console_sizes == [(1920, 1080), (1366, 768)]
    assert parser().parse_args(["stream"]).console_sizes is None  # the plan's default: today's window


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--resolutions", "5120x2880"], "even sizes from 640x480 to 3840x2160"),
        (["--console-sizes", "640x480"], "even sizes from 800x600 to 3840x2160"),
        (["--console-sizes", "1366x767"], "even sizes"),
        (["--console-sizes", "big"], "is not WIDTHxHEIGHT"),
    ],
)
def test_bad_sizes_get_a_clear_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["stream", *argv])
    assert message in capsys.readouterr().err


def _world(consoles: list[tuple[int, int]], references: list[str]) -> Any:
    plan = runner.Plan([(3840, 2160)], [NETWORKS["unshaped"]], ["typing"], 5.0, 1, vnc=bool(references),
                       references=references, consoles=consoles)  # fmt: skip
    return SimpleNamespace(plan=plan, server=object(), relay_server=object(), progress=lambda _: None)


def test_veo_runs_in_every_console_size_and_each_reference_once() -> None:
    world = _world([(1920, 1080), (1366, 768)], ["x11vnc", "x11vnc-tuned", "x0vncserver"])
    names = [name for name, _ in runner._sessions(cast(Any, world), cast(Any, None), NETWORKS["unshaped"])]
    assert names == [
        "veo/auto console 1920x1080",
        "veo/auto console 1366x768",
        "vnc console 1920x1080",
        "vnc-tuned console 1920x1080",
        "tigervnc console 1920x1080",
    ]
    described = world.plan.describe()
    assert described["consoles"] == ["1920x1080", "1366x768"]
    assert described["references"] == ["vnc", "vnc-tuned", "tigervnc"]


def test_one_console_and_one_reference_read_as_before() -> None:
    world = _world([(1920, 1200)], ["x11vnc"])
    names = [name for name, _ in runner._sessions(cast(Any, world), cast(Any, None), NETWORKS["unshaped"])]
    assert names == ["veo/auto", "vnc"]


# ---------------------------------------------------------------- the servers' command lines


def test_x0vncserver_is_tigervncs_server_local_unauthenticated_and_view_only() -> None:
    server = VNC_SERVERS["x0vncserver"]
    assert server.label == "tigervnc" and server.package == "tigervnc-scraping-server"
    assert server.argv(":520") == [
        "X0tigervnc", "-display", ":520", "-rfbport", "5952", "-localhost", "-SecurityTypes", "None",
        "-AcceptPointerEvents=0", "-AcceptKeyEvents=0", "-AcceptSetDesktopSize=0", "-AlwaysShared",
    ]  # fmt: skip


def test_x11vnc_tuned_differs_from_its_defaults_only_by_defer_and_wait() -> None:
    plain, tuned = VNC_SERVERS["x11vnc"].argv(":5"), VNC_SERVERS["x11vnc-tuned"].argv(":5")
    assert plain == ["x11vnc", "-display", ":5", "-rfbport", "5950",
                     "-localhost", "-shared", "-forever", "-nopw", "-viewonly", "-quiet"]  # fmt: skip
    assert tuned[:4] == ["x11vnc", "-display", ":5", "-rfbport"]
    assert tuned[5:] == [*plain[5:], "-defer", "0", "-wait", "5"]
    assert len({s.port for s in VNC_SERVERS.values()}) == 3  # each its own port


def test_novnc_shows_the_screen_one_to_one_and_view_only() -> None:
    url = novnc_url()
    assert "vnc_lite.html?" in url and "scale=false" in url and "view_only=true" in url


def test_a_missing_reference_server_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner.os, "geteuid", lambda: 0)
    monkeypatch.setattr(
        runner.shutil, "which", lambda tool: None if tool == "X0tigervnc" else "/usr/bin/" + tool
    )
    monkeypatch.setattr("veo.bench.stream.vnc_pipeline.shutil.which",
                        lambda tool: None if tool == "X0tigervnc" else "/usr/bin/" + tool)  # fmt: skip
    problem = runner.missing_requirements(True, references=["x11vnc", "x0vncserver"])
    assert problem is not None and "X0tigervnc (Debian package tigervnc-scraping-server)" in problem
    assert runner.missing_requirements(True, references=["x11vnc"]) is None
    assert runner.missing_requirements(False) is None


# ---------------------------------------------------------------- the best reference


def test_veo_is_compared_with_the_fastest_reference_of_its_case(tmp_path: Path) -> None:
    measured = [
        _m("veo", 22.0, 27.0),
        _m("vnc", 72.0, 60.0),
        _m("vnc-tuned", 14.0, 62.0),
        _m("tigervnc", 18.0, 40.0),
        # another case: tigervnc is the best there
        _m("veo", 56.0, 382.0, workload="dragging"),
        _m("vnc-tuned", 23.0, 19185.0, workload="dragging"),
        _m("tigervnc", 20.0, 5000.0, workload="dragging"),
    ]
    summaries = summarize(measured)
    typing = next(s for s in summaries if s.name == "veo/auto" and s.workload == "typing")
    best = best_reference(summaries, typing)
    assert best is not None and best.name == "vnc-tuned"
    veo_line = next(line for line in table(summaries).splitlines() if "veo/auto" in line and "typing" in line)
    assert veo_line.split()[-3:] == ["vnc-tuned", "1.57", "0.44"]  # 22/14, 27/62
    drag_line = next(
        line for line in table(summaries).splitlines() if "veo/auto" in line and "dragging" in line
    )
    assert drag_line.split()[-3:] == ["tigervnc", "2.80", "0.08"]
    # the per-system rows stay, veo first, then the references in the order they run
    typing_rows = [line.split()[3] for line in table(summaries).splitlines()[2:] if " typing " in line]
    assert typing_rows == ["veo/auto", "vnc", "vnc-tuned", "tigervnc"]
    path = tmp_path / "out.json"
    write_json(path, measured, {})
    pairs = {p["workload"]: p for p in json.loads(path.read_text())["best_reference"]}
    assert pairs["typing"]["best_reference"] == "vnc-tuned"
    assert pairs["typing"]["references_latency_median_ms"] == {
        "vnc": 72.0,
        "vnc-tuned": 14.0,
        "tigervnc": 18.0,
    }
    assert pairs["dragging"]["ratio"]["latency_median_ms"] == pytest.approx(2.8)


def test_idle_has_no_latency_so_the_best_reference_is_the_one_with_fewest_bytes() -> None:
    summaries = summarize(
        [_m("veo", None, 4.0, "idle"), _m("vnc", None, 9.0, "idle"), _m("tigervnc", None, 2.0, "idle")]
    )
    veo = next(s for s in summaries if s.name == "veo/auto")
    best = best_reference(summaries, veo)
    assert best is not None and best.name == "tigervnc"


def test_a_reference_measured_in_one_console_serves_veo_in_every_console() -> None:
    summaries = summarize(
        [_m("veo", 30.0, console="1920x1080"), _m("veo", 25.0, console="1366x768"), _m("tigervnc", 18.0)]
    )
    assert {s.console for s in summaries if s.name == "veo/auto"} == {"1920x1080", "1366x768"}
    for s in summaries:
        if s.name == "veo/auto":
            best = best_reference(summaries, s)
            assert best is not None and best.name == "tigervnc"


def test_the_received_picture_size_is_kept() -> None:
    (s,) = summarize([_m("veo", 30.0, resolution="3840x2160", console="1920x1080", video_size="1600x900")])
    assert s.video_size == "1600x900" and s.console == "1920x1080"
    assert "1600x900" in table([s])


# ---------------------------------------------------------------- issue 18's targets


def _rows(
    measured: list[Measurement], extra: dict[str, Any] | None = None
) -> dict[str, list[targets.TargetRow]]:
    rows: dict[str, list[targets.TargetRow]] = {}
    for row in targets.check_issue18(summarize(measured), extra):
        rows.setdefault(row.check, []).append(row)
    return rows


def test_every_check_of_the_issue_has_a_row_even_when_not_measured() -> None:
    rows = _rows([])
    assert list(rows) == [
        "4K screen, 1920-px console: typing latency",
        "every workload and link at 1080p",
        "VP8 console (Firefox)",
        "4K screen: scrolling",
        "1080p scrolling agent CPU",
        "1080p typing p95, unshaped",
        "poor link, 1080p scrolling",
        "poor link, after a 2-s burst",
        "readability",
    ]
    assert all(r.met is None and r.verdict == "not judged" for group in rows.values() for r in group)


def test_4k_typing_must_meet_its_limits_and_beat_the_best_vnc() -> None:
    uhd = {"resolution": "3840x2160"}
    rows = _rows(
        [_m("veo", 30.0, console="1920x1080", **uhd), _m("vnc", 50.0, **uhd), _m("tigervnc", 25.0, **uhd)]
    )
    (row,) = rows["4K screen, 1920-px console: typing latency"]
    assert row.met is False  # 30 ms, p95 45: within the limits, but TigerVNC's 25 is faster
    assert row.figures == "median 30 ms, p95 45 ms; best VNC tigervnc 25 ms"
    rows = _rows([_m("veo", 20.0, console="1920x1080", **uhd), _m("tigervnc", 25.0, **uhd)])
    assert rows["4K screen, 1920-px console: typing latency"][0].met is True
    rows = _rows([_m("veo", 20.0, console="1920x1080", **uhd)])  # no reference: not judged
    assert rows["4K screen, 1920-px console: typing latency"][0].met is None
    rows = _rows([_m("veo", 20.0, console="1366x768", **uhd), _m("tigervnc", 25.0, **uhd)])
    assert rows["4K screen, 1920-px console: typing latency"][0].case == "-"  # another console


def test_1080p_latency_is_judged_against_the_best_reference_per_case() -> None:
    rows = _rows(
        [_m("veo", 22.0), _m("vnc", 72.0), _m("vnc-tuned", 14.0), _m("veo", 56.0, workload="scrolling"),
         _m("vnc-tuned", 101.0, workload="scrolling"), _m("veo", None, 3.0, workload="idle")]
    )  # fmt: skip
    verdicts = {r.case.split()[-1]: r.met for r in rows["every workload and link at 1080p"]}
    assert verdicts == {"typing": False, "scrolling": True}  # idle has no latency: no row


def test_vp8_and_4k_scrolling_and_the_1080p_limits() -> None:
    rows = _rows(
        [
            _m("veo", 22.0, 27.0, source_cpu_percent=8.0),
            _m("veo", 30.0, 50.0, codec="vp8-console", source_cpu_percent=9.0),
            _m("veo", 70.0, 2500.0, "scrolling", source_cpu_percent=28.0, frames_decoded_per_s=30.0),
            _m("veo", 80.0, 2900.0, "scrolling", resolution="3840x2160", source_cpu_percent=45.0,
               frames_decoded_per_s=30.0),
            _m("veo", 180.0, 1900.0, "scrolling", network="poor", max_gap_ms=900.0, updates_per_s=6.0,
               source_cpu_percent=20.0),
        ]
    )  # fmt: skip
    (vp8,) = rows["VP8 console (Firefox)"]
    assert vp8.met is True and "latency 30 ms vs veo/auto 22 ms" in vp8.figures
    (uhd,) = rows["4K screen: scrolling"]
    assert uhd.met is True and "2900 kbit/s vs 1080p 2500 kbit/s" in uhd.figures  # 1.16x
    assert [r.met for r in rows["1080p scrolling agent CPU"]] == [True, True]  # unshaped 28, poor 20
    assert rows["1080p typing p95, unshaped"][0].met is True  # 22 * 1.5 = 33
    (poor,) = rows["poor link, 1080p scrolling"]
    assert poor.met is True and poor.figures == "median 180 ms, longest stall 900 ms, 6.0 updates/s"
    text = targets.issue18_text(targets.check_issue18(summarize([_m("veo", 22.0, 27.0)])))
    assert text.startswith("targets of issue 18") and "judged met" in text


def test_the_scenarios_judge_their_own_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """burst.py / readability.py (BENCH-SCEN) offer target_rows(section); a run without the
    section, or a module without the function, leaves the row not judged."""
    fake = types.ModuleType("veo.bench.stream.burst")

    def target_rows(section: Any) -> list[targets.TargetRow]:
        return [
            targets.TargetRow("poor link, after a 2-s burst", "within 2 s", "poor", f"{section['s']} s", True)
        ]

    fake.target_rows = target_rows  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "veo.bench.stream.burst", fake)
    rows = _rows([], {"burst": {"s": 1.4}})
    (burst,) = rows["poor link, after a 2-s burst"]
    assert burst.met is True and burst.figures == "1.4 s"
    assert _rows([])["poor link, after a 2-s burst"][0].met is None
    monkeypatch.setitem(sys.modules, "veo.bench.stream.readability", types.ModuleType("readability"))
    assert _rows([], {"readability": {}})["readability"][0].met is None
    assert burst.as_json()["verdict"] == "met"


def test_the_chart_draws_each_console_size_of_veo(tmp_path: Path) -> None:
    from veo.bench.stream.report import chart

    path = tmp_path / "chart.png"
    summaries = summarize(
        [_m("veo", 30.0, console="1920x1080"), _m("veo", 25.0, console="1366x768"), _m("vnc", 60.0)]
    )
    chart(path, summaries, "consoles")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
