"""``veo bench signaling`` end to end, small: real ``veo server`` nodes, real sockets, real figures.

Nothing here is timed: the tests check that each figure was measured (agents held, memory read
before and after, set-ups that reached consent), never how fast or how small it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veo.bench.main import main, parser
from veo.bench.signaling.peers import source_address
from veo.bench.signaling.setups import PHASES, SetupResult, summarize


def test_one_node_small_run_writes_real_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "signaling.json"
    code = main(
        [
            "signaling",
            "--agents",
            "20",
            "--setups",
            "4",
            "--duration",
            "1",
            "--nodes",
            "1",
            "--json",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "KiB/agent RSS" in printed and "p95 ms" in printed
    figures = json.loads(out.read_text())
    (scenario,) = figures["scenarios"]
    assert scenario["nodes"] == 1 and scenario["database"] == "sqlite" and scenario["error"] is None
    idle = scenario["idle"]
    assert idle["held"] == 20 and idle["per_node"] == {"node1": 20} and idle["failures"] == {}
    # the agents offer permessage-deflate as veo agent does; veo server declines it (server/main.py)
    assert idle["compressed"] == 0
    # memory was read from the running node before and after the agents joined
    assert idle["rss_before_kib"]["node1"] > 10_000 and idle["rss_after_kib"]["node1"] > 10_000
    assert idle["pss_after_kib"]["node1"] > 0
    assert isinstance(idle["kib_per_agent_rss"], float)
    assert idle["idle_cpu_s"]["node1"] >= 0 and idle["duration_s"] >= 1
    setups = scenario["setups"]
    assert setups["count"] == 4 and setups["ok"] == 4 and setups["errors"] == {}
    assert 0 < setups["p50_ms"] <= setups["p95_ms"] <= setups["max_ms"]
    assert set(setups["phase_p50_ms"]) == set(PHASES)
    print(printed)  # the figures, for whoever reads the test log


@pytest.mark.postgres
def test_two_nodes_set_up_across_nodes_and_leave_no_keys_in_redis(
    postgres_session_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # postgres_session_url only proves the server is there (or skips); the bench makes its own database.
    import redis

    from veo.bench.signaling.cli import DEFAULT_REDIS

    client = redis.Redis.from_url(DEFAULT_REDIS)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis at " + DEFAULT_REDIS)
    out = tmp_path / "two.json"
    argv = ["signaling", "--nodes", "2", "--agents", "10", "--setups", "3", "--duration", "1"]
    assert main([*argv, "--json", str(out)]) == 0, capsys.readouterr().out
    (scenario,) = json.loads(out.read_text())["scenarios"]
    assert (scenario["database"], scenario["bus"]) == ("postgresql", "redis")
    setups = scenario["setups"]
    assert setups["cross_node"] is True and setups["ok"] == 3 and setups["errors"] == {}
    assert scenario["idle"]["per_node"] == {"node1": 5, "node2": 5}
    try:
        assert list(client.scan_iter("veo:rt:*")) == []
    finally:
        client.close()


def test_the_bare_uvicorn_yardstick_holds_its_sockets() -> None:
    from veo.bench.signaling.bare import measure

    line = measure(10, idle_seconds=0.5)
    assert line.startswith("bare uvicorn: 10 sockets, RSS "), line
    assert "KiB per socket" in line and "idle CPU" in line


def test_a_failed_setup_is_counted_by_its_reason_not_in_the_latency() -> None:
    done = [SetupResult(total_ms=float(ms), phases_ms={p: 1.0 for p in PHASES}) for ms in range(1, 21)]
    failed = [SetupResult(phases_ms={"create": 5.0}, error="PeerError: no answer within 30 s")] * 3
    figures = summarize(done + failed, nodes=2, cross_node=True)
    assert (figures.count, figures.ok) == (23, 20)
    assert figures.errors == {"PeerError: no answer within 30 s": 3}
    assert (figures.p50_ms, figures.p95_ms, figures.max_ms) == (10.5, 19.0, 20.0)
    assert figures.phase_p50_ms["create"] == 1.0  # 20 ones and 3 fives


def test_every_simulated_agent_has_its_own_loopback_address() -> None:
    addresses = [source_address(i) for i in range(200_000)]
    assert len(set(addresses)) == len(addresses)
    for address in addresses[::997]:
        first, *rest = (int(part) for part in address.split("."))
        assert first == 127 and all(0 <= part <= 255 for part in rest) and rest[-1] != 0


@pytest.mark.parametrize(
    "argv",
    [
        ["signaling", "--agents", "20001"],
        ["signaling", "--setups", "-1"],
        ["signaling", "--duration", "601"],
        ["signaling", "--nodes", "3"],
        ["signaling", "--database", "mysql"],
    ],
)
def test_unbounded_or_unknown_arguments_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2
    assert "signaling" in capsys.readouterr().err
