"""``veo bench stream --backend x11,portal``: the flag, and the portal's figures beside X11's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veo.bench.main import parser
from veo.bench.stream.display import Display
from veo.bench.stream.report import (
    Measurement,
    backend_comparison,
    codec_comparison,
    summarize,
    table,
    write_json,
)


def _m(backend: str, latency: float, kbit: float, cpu: float, run: int = 1) -> Measurement:
    return Measurement(
        system="veo", codec="auto", resolution="1280x720", network="unshaped", workload="typing",
        run=run, seconds=8.0, latency_median_ms=latency, latency_p95_ms=latency * 1.5,
        latency_samples=60, updates_per_s=8.0, frames_decoded_per_s=8.0, max_gap_ms=200.0,
        wire_kbit_s=kbit, app_kbit_s=kbit, source_cpu_percent=cpu, source_rss_mb=150.0,
        console_cpu_percent=10.0, console_rss_mb=300.0, workload_cpu_percent=1.0, setup_ms=300.0,
        backend=backend, server_cpu_percent=cpu * 4 if backend == "portal" else cpu,
    )  # fmt: skip


def test_the_portal_is_its_own_system_beside_x11() -> None:
    summaries = summarize([_m("x11", 20, 36, 8), _m("portal", 60, 40, 12), _m("portal", 70, 44, 14, run=2)])
    names = sorted(s.name for s in summaries)
    assert names == ["veo/auto", "veo/auto/portal"]
    portal = next(s for s in summaries if s.name == "veo/auto/portal")
    assert portal.runs == 2 and portal.figures["latency_median_ms"] == 65
    assert "veo/auto/portal" in table(summaries)


def test_the_comparison_says_portal_over_x11_measured_in_the_same_run(tmp_path: Path) -> None:
    measurements = [_m("x11", 20, 40, 8), _m("portal", 60, 50, 12)]
    summaries = summarize(measurements)
    assert backend_comparison(summaries) == (
        "1280x720 unshaped typing: portal ÷ x11 latency median 60 / 20 ms = 3.00x, p95 90 / 30 ms = "
        "3.00x, fps 8.0 / 8.0 = 1.00x, kbit/s 50 / 40 = 1.25x, agent CPU 12.0 / 8.0 % = 1.50x, "
        "display server CPU 48.0 / 8.0 % = 6.00x"
    )
    # two backends are not two codecs: no codec line pits the portal against X11
    assert codec_comparison(summaries) == ""
    path = tmp_path / "out.json"
    write_json(path, measurements, {})
    (pair,) = json.loads(path.read_text())["backend_comparison"]
    assert pair["system"] == "veo/auto" and pair["ratio"]["latency_median_ms"] == 3.0
    assert pair["portal"]["source_cpu_percent"] == 12 and pair["x11"]["wire_kbit_s"] == 40
    assert pair["ratio"]["server_cpu_percent"] == 6.0
    assert backend_comparison(summarize([_m("portal", 60, 50, 12)])) == ""


def test_the_backend_flag_takes_a_list_and_defaults_to_x11() -> None:
    assert parser().parse_args(["stream", "--backend", "x11,portal"]).backend == ["x11", "portal"]
    assert parser().parse_args(["stream"]).backend is None  # the CLI then measures x11 only


def test_an_unknown_backend_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["stream", "--backend", "x11,wayland"])
    assert "unknown backend wayland; choose from x11, portal" in capsys.readouterr().err


def test_the_x11_screen_adds_nothing_to_the_agent_and_asks_nothing_after_allow() -> None:
    """The X11 path runs as it did before the portal came: the agent picks X11 on its own."""
    display = Display.__new__(Display)
    display.name = ":521"
    assert display.backend == "x11"
    assert display.agent_args() == [] and display.agent_env() == {"DISPLAY": ":521"}
    display.after_allow(control=True)
    display.rest_pointer()
