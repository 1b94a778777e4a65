"""The relay path of ``veo bench stream``: coturn's configuration, the relay server's settings,
the sessions a plan asks for, and the relay-versus-direct figures (issue 13 point 3)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from veo.bench.main import parser
from veo.bench.stream import runner
from veo.bench.stream.lab import NETWORKS
from veo.bench.stream.procs import BenchError
from veo.bench.stream.report import Measurement, codec_comparison, relay_comparison, summarize, write_json
from veo.bench.stream.turn import RELAY_ADDRESS, SHIPPED_CONF, relay_configuration, server_settings


def _conf(tmp_path: Path) -> dict[str, list[str]]:
    text = relay_configuration(SHIPPED_CONF.read_text(), "s3cret", tmp_path)
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_coturn_runs_the_shipped_configuration_with_the_bench_addresses(tmp_path: Path) -> None:
    conf = _conf(tmp_path)
    shipped = SHIPPED_CONF.read_text()
    # the shipped hardening stays: REST secret, every denied range, quotas, no CLI
    assert "use-auth-secret" in conf and "no-cli" in conf
    denied = [line.split("=", 1)[1] for line in shipped.splitlines() if line.startswith("denied-peer-ip=")]
    assert len(denied) > 20 and conf["denied-peer-ip"] == denied
    for key in ("max-bps", "user-quota", "total-quota"):
        assert conf[key] and f"{key}={conf[key][0]}" in shipped
    # the placeholders are replaced by the bench's values, each once
    assert conf["listening-ip"] == conf["relay-ip"] == [RELAY_ADDRESS]
    assert conf["static-auth-secret"] == ["s3cret"]
    assert "syslog" not in conf and "cert" not in conf and "proc-user" not in conf
    assert "no-tls" in conf
    # only the relay's own address is let through as a peer, as a single address
    assert conf["allowed-peer-ip"] == [RELAY_ADDRESS]
    assert str(tmp_path) in conf["log-file"][0]


def test_a_placeholder_left_in_the_configuration_stops_the_bench(tmp_path: Path) -> None:
    shipped = SHIPPED_CONF.read_text() + "\nexternal-ip=REPLACE-me\nalt-listening-ip=REPLACE-me\n"
    with pytest.raises(BenchError, match="placeholder"):
        relay_configuration(shipped, "s3cret", tmp_path)


def test_the_relay_server_sends_both_peers_to_one_udp_turn_url_relay_only() -> None:
    settings = server_settings("s3cret")
    assert json.loads(settings["VEO_TURN_URLS"]) == [f"turn:{RELAY_ADDRESS}:3478"]
    assert settings["VEO_TURN_SECRET"] == "s3cret"
    assert settings["VEO_ICE_TRANSPORT_POLICY"] == "relay"


def _world(paths: list[str], codecs: list[str | None]) -> tuple[Any, list[str]]:
    said: list[str] = []
    plan = runner.Plan([(1280, 720)], [NETWORKS["unshaped"]], ["typing"], 5.0, 1, vnc=True,
                       codecs=codecs, paths=paths)  # fmt: skip
    world = SimpleNamespace(plan=plan, server=object(), relay_server=object(), progress=said.append)
    return world, said


def test_a_plan_with_both_paths_measures_each_codec_direct_then_relayed_then_each_vnc() -> None:
    world, _ = _world(["direct", "relay"], [None, "vp8"])
    names = [name for name, _ in runner._sessions(cast(Any, world), cast(Any, None), NETWORKS["unshaped"])]
    assert names == ["veo/auto", "veo/vp8", "veo/auto/relay", "veo/vp8/relay", "vnc", "vnc-tuned", "tigervnc"]


def test_the_relay_path_is_skipped_on_a_shaped_network_and_says_so() -> None:
    world, said = _world(["direct", "relay"], [None])
    names = [name for name, _ in runner._sessions(cast(Any, world), cast(Any, None), NETWORKS["office"])]
    assert names == ["veo/auto", "vnc", "vnc-tuned", "tigervnc"]
    assert said == ["relay path: skipped on office (measured on the unshaped network)"]


def _m(path: str, latency: float, p95: float, kbit: float, codec: str = "auto") -> Measurement:
    return Measurement(
        system="veo", codec=codec, resolution="1280x720", network="unshaped", workload="typing", run=1,
        seconds=5.0, latency_median_ms=latency, latency_p95_ms=p95, latency_samples=40, updates_per_s=8.0,
        frames_decoded_per_s=8.0, max_gap_ms=150.0, wire_kbit_s=kbit, app_kbit_s=kbit,
        source_cpu_percent=5.0, source_rss_mb=150.0, console_cpu_percent=10.0, console_rss_mb=300.0,
        workload_cpu_percent=0.5, path=path, relay_kbit_s=2 * kbit if path == "relay" else None,
        candidates="relay/relay" if path == "relay" else "host/host",
    )  # fmt: skip


def test_relay_figures_sit_beside_the_direct_ones_with_their_ratio(tmp_path: Path) -> None:
    measured = [_m("direct", 24, 32, 36), _m("relay", 36, 64, 45)]
    summaries = summarize(measured)
    assert sorted(s.name for s in summaries) == ["veo/auto", "veo/auto/relay"]
    assert relay_comparison(summaries) == (
        "1280x720 unshaped typing: relay ÷ direct latency median 36 / 24 ms = 1.50x, p95 64 / 32 ms = "
        "2.00x, console's kbit/s 45 / 36 = 1.25x; coturn carried 90 kbit/s (both legs, both ways)"
    )
    # the relay is not mistaken for a second codec
    assert codec_comparison(summaries) == ""
    path = tmp_path / "out.json"
    write_json(path, measured, {"commit": "abc"}, {"drops": []})
    data = json.loads(path.read_text())
    (pair,) = data["relay_comparison"]
    assert pair["ratio"]["latency_median_ms"] == 1.5 and pair["relay_server_kbit_s"] == 90
    assert data["drops"] == []
    assert [m["path"] for m in data["measurements"]] == ["direct", "relay"]
    assert data["measurements"][1]["candidates"] == "relay/relay"


def test_without_both_paths_there_is_no_relay_line() -> None:
    assert relay_comparison(summarize([_m("relay", 36, 64, 45)])) == ""
    assert relay_comparison(summarize([_m("direct", 24, 32, 36)])) == ""


def test_paths_and_drop_flags() -> None:
    args = parser().parse_args(["stream", "--paths", "relay,direct", "--drop", "--drop-seconds", "12"])
    assert args.paths == ["relay", "direct"] and args.drop and args.drop_seconds == 12
    assert parser().parse_args(["stream"]).paths is None


def test_an_unknown_path_gets_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["stream", "--paths", "direct,vpn"])
    assert "unknown path vpn" in capsys.readouterr().err
