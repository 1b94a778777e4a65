"""Summaries, the table, the JSON and the chart of ``veo bench stream``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veo.bench.main import parser
from veo.bench.stream.report import Measurement, chart, codec_comparison, ratio, summarize, table, write_json


def _m(system: str, run: int, latency: float | None, kbit: float, workload: str = "typing") -> Measurement:
    return Measurement(
        system=system, codec="auto" if system == "veo" else "rfb", resolution="1920x1080",
        network="unshaped", workload=workload, run=run, seconds=8.0, latency_median_ms=latency,
        latency_p95_ms=None if latency is None else latency * 2, latency_samples=0 if latency is None else 60,
        updates_per_s=8.0, frames_decoded_per_s=8.0 if system == "veo" else None, max_gap_ms=200.0,
        wire_kbit_s=kbit, app_kbit_s=kbit if system == "veo" else None, source_cpu_percent=5.0,
        source_rss_mb=150.0, console_cpu_percent=10.0, console_rss_mb=300.0, workload_cpu_percent=1.0,
        setup_ms=300.0 if system == "veo" else None,
    )  # fmt: skip


def test_summary_takes_medians_over_runs() -> None:
    runs = [_m("veo", 1, 30.0, 100.0), _m("veo", 2, 50.0, 300.0), _m("veo", 3, 40.0, 200.0)]
    (summary,) = summarize(runs)
    assert summary.name == "veo/auto" and summary.runs == 3
    assert summary.figures["latency_median_ms"] == 40.0
    assert summary.figures["wire_kbit_s"] == 200.0


def test_table_puts_veo_beside_vnc_with_ratios() -> None:
    text = table(summarize([_m("veo", 1, 30.0, 100.0), _m("vnc", 1, 60.0, 400.0)]))
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["resolution", "network", "workload", "system"]
    veo_line = next(line for line in lines if "veo/auto" in line and "typing" in line)
    assert veo_line.split()[-2:] == ["0.50", "0.25"]
    assert "set-up (Allow -> first frame) veo/auto 1920x1080 unshaped: 300 ms" in text


def test_idle_has_no_latency_and_no_ratio_to_divide_by_zero() -> None:
    assert ratio(None, 10.0) is None and ratio(5.0, 0.0) is None
    text = table(summarize([_m("veo", 1, None, 3.0, "idle"), _m("vnc", 1, None, 0.0, "idle")]))
    assert "idle" in text


def test_json_holds_summary_measurements_and_meta(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    write_json(path, [_m("veo", 1, 30.0, 100.0)], {"commit": "abc"})
    data = json.loads(path.read_text())
    assert data["meta"]["commit"] == "abc"
    assert data["measurements"][0]["latency_median_ms"] == 30.0
    assert data["summary"][0]["figures"]["latency_p95_ms"] == 60.0


def test_chart_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    chart(path, summarize([_m("veo", 1, 30.0, 100.0), _m("vnc", 1, 60.0, 400.0)]), "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--resolutions", "12x3"], "is not WIDTHxHEIGHT"),
        (["--resolutions", "1921x1080"], "even sizes"),
        (["--networks", "lan"], "unknown network lan"),
        (["--workloads", "typing,gaming"], "unknown workload gaming"),
        (["--seconds", "0"], "between 2 and 600"),
        (["--runs", "two"], "not a number"),
        (["--quick", "--full"], "not allowed with"),
    ],
)
def test_bad_flags_get_a_clear_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["stream", *argv])
    assert message in capsys.readouterr().err


def test_flags_parse_into_lists() -> None:
    args = parser().parse_args(
        ["stream", "--smoke", "--resolutions", "720p,1920x1080", "--networks", "poor,poor"]
    )
    assert args.mode == "smoke"
    assert args.resolutions == [(1280, 720), (1920, 1080)]
    assert args.networks == ["poor"]


def test_targets_compare_veo_with_the_limits_and_with_vnc() -> None:
    from veo.bench.stream.report import check_targets

    rows = check_targets(summarize([_m("veo", 1, 30.0, 100.0), _m("vnc", 1, 60.0, 400.0)]))
    verdicts = {(target, verdict) for target, _, _, verdict in rows}
    assert ("typing 1080p unshaped, latency median <= 40 ms", "yes") in verdicts
    assert ("typing 1080p unshaped, latency p95 <= 70 ms", "yes") in verdicts
    assert ("typing/scrolling bytes <= half of VNC's", "yes") in verdicts
    assert ("latency median never above VNC's", "yes") in verdicts
    assert ("session set-up median <= 1 s", "yes") in verdicts


def test_a_moving_workload_with_nothing_decoded_fails_its_latency_target() -> None:
    from veo.bench.stream.report import check_targets

    rows = check_targets(summarize([_m("veo", 1, None, 100.0, "scrolling")]))
    assert any(verdict.startswith("no") for target, _, _, verdict in rows if "fps" in target)


def test_codec_comparison_puts_the_vp8_console_beside_the_default() -> None:
    """CPU per frame = CPU % over frames delivered; 12 % at 6 fps against 5 % at 8 fps is 3.2x."""
    default = _m("veo", 1, 30.0, 100.0, "scrolling")
    vp8 = _m("veo", 1, 40.0, 300.0, "scrolling")
    vp8.codec, vp8.source_cpu_percent, vp8.frames_decoded_per_s = "vp8-console", 12.0, 6.0
    text = codec_comparison(summarize([default, vp8, _m("vnc", 1, 60.0, 400.0, "scrolling")]))
    assert text == (
        "1920x1080 unshaped scrolling: veo/vp8-console ÷ veo/auto sender CPU per frame "
        "20.00 / 6.25 ms = 3.20x, per second 2.40x, kbit/s 300 / 100"
    )
    assert codec_comparison(summarize([default])) == ""  # one codec: nothing to compare


def test_the_vp8_console_is_a_codec_choice() -> None:
    args = parser().parse_args(["stream", "--codec", "auto,vp8-console"])
    assert args.codec == ["auto", "vp8-console"]
