"""``veo bench signaling`` end to end, small: real ``veo server`` nodes, real sockets, real figures.

Nothing here is timed: the tests check that each figure was measured (agents held, memory read
before and after, set-ups that reached consent), never how fast or how small it was. So the two
runs rest and settle 1 s where the bench waits 3 s and 5 s (:func:`short_pauses`): each run took
about 45 s, most of it those pauses. The two-node run uses a redis-server of its own, so that its
"no keys left" check sees its own keys only, whatever else runs beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from tests.integration.redis_process import running_redis

from veo.bench.main import main, parser
from veo.bench.signaling import cli, device_idle
from veo.bench.signaling.peers import source_address
from veo.bench.signaling.setups import PHASES, SetupResult, summarize

PAUSE_SECONDS = 1.0


@pytest.fixture
def short_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench's rests (3 s) and settles (5 s) cut to :data:`PAUSE_SECONDS`: they are there for
    steady figures, which these tests do not judge."""
    for module in (cli, device_idle):
        monkeypatch.setattr(module, "REST_SECONDS", PAUSE_SECONDS)
        monkeypatch.setattr(module, "SETTLE_SECONDS", PAUSE_SECONDS)


@pytest.mark.usefixtures("short_pauses")
def test_one_node_small_run_writes_real_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "signaling.json"
    code = main(
        [
            "signaling",
            "--agents",
            "20",
            "--setups",
            "4",
            "--devices",
            "8",
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
    # the managed devices authenticated on the real /ws/device of fresh nodes, and stayed
    devices = scenario["devices"]
    assert (devices["devices"], devices["held"], devices["warm_up"], devices["failures"]) == (8, 8, 10, {})
    assert devices["still_open"] == 8 and devices["online_in_database"] == 8 and devices["compressed"] == 0
    assert devices["per_node"] == {"node1": 8} and devices["heartbeat_seconds"] > 0
    assert 0 < devices["connect_p50_ms"] <= devices["connect_p95_ms"] <= devices["connect_max_ms"]
    assert devices["rss_before_kib"]["node1"] > 10_000 and devices["rss_after_kib"]["node1"] > 10_000
    assert devices["baseline_s"] == 1 and devices["duration_s"] >= 1
    assert isinstance(devices["kib_per_device_rss"], float)
    assert (devices["beside_agents"], devices["beside_agents_held"], devices["beside_failures"]) == (8, 8, {})
    assert devices["beside_rss_after_kib"]["node1"] > 10_000
    ratios = scenario["devices_vs_agents"]
    assert set(ratios) == {"kib_rss", "kib_pss", "kib_rss_idle_table", "cpu_per_connection"}
    assert "Managed devices" in printed and "KiB/dev RSS" in printed
    print(printed)  # the figures, for whoever reads the test log


@pytest.mark.postgres
@pytest.mark.usefixtures("short_pauses")
def test_two_nodes_set_up_across_nodes_and_leave_no_keys_in_redis(
    postgres_session_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # postgres_session_url only proves the server is there (or skips); the bench makes its own database.
    with running_redis(tmp_path) as redis_server:
        _two_nodes(redis_server.url, redis_server.client(), tmp_path, capsys)


def _two_nodes(
    redis_url: str, client: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "two.json"
    argv = [
        "signaling",
        "--nodes",
        "2",
        "--agents",
        "10",
        "--setups",
        "3",
        "--devices",
        "6",
        "--duration",
        "1",
        "--redis-url",
        redis_url,
    ]
    assert main([*argv, "--json", str(out)]) == 0, capsys.readouterr().out
    (scenario,) = json.loads(out.read_text())["scenarios"]
    assert (scenario["database"], scenario["bus"]) == ("postgresql", "redis")
    setups = scenario["setups"]
    assert setups["cross_node"] is True and setups["ok"] == 3 and setups["errors"] == {}
    assert scenario["idle"]["per_node"] == {"node1": 5, "node2": 5}
    devices = scenario["devices"]
    assert devices["per_node"] == {"node1": 3, "node2": 3} and devices["failures"] == {}
    assert devices["still_open"] == 6 and devices["online_in_database"] == 6
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
        ["signaling", "--devices", "5001"],
        ["signaling", "--devices", "-3"],
    ],
)
def test_unbounded_or_unknown_arguments_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2
    assert "signaling" in capsys.readouterr().err


# ---------------------------------------------------------------- managed devices (issue 17)


def test_the_bench_fleet_is_enrolled_with_the_public_keys_of_the_keys_it_holds(database_url: str) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from sqlalchemy import select

    from veo.bench.signaling import devices
    from veo.protocol.device import encode_public_key
    from veo.server.db.engine import Database
    from veo.server.devices.models import Device

    fleet = devices.enrol(database_url, 7)
    db = Database(database_url)
    try:
        with db.session() as s:
            rows = {d.id: d for d in s.scalars(select(Device))}
    finally:
        db.dispose()
    assert set(rows) == {d.device_id for d in fleet}
    for device in fleet:
        raw = device.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        row = rows[device.device_id]
        assert row.public_key == encode_public_key(raw)
        assert row.group.name == devices.GROUP_NAME and row.revoked_at is None and row.connected_node is None
    assert sorted(r.name for r in rows.values()) == [f"bench-{n:05d}" for n in range(1, 8)]
    assert devices.online(database_url, list(rows)) == 0


async def test_bench_devices_sign_what_the_contract_says_and_a_refusal_is_counted(tmp_path: Path) -> None:
    """A stand-in ``/ws/device`` that checks each hello with the contract's own payload: the
    bench's devices pass, one whose key the server does not know is refused and counted."""
    from typing import Any, cast

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from websockets.asyncio.server import ServerConnection, serve

    from veo.bench.signaling import devices
    from veo.bench.signaling.nodes import HOST, Node
    from veo.protocol.device import (
        DeviceChallenge,
        DeviceHello,
        DeviceRefused,
        DeviceWelcome,
        auth_payload,
        parse_device_message,
    )

    fleet = [devices.BenchDevice(f"{n:032x}", Ed25519PrivateKey.generate()) for n in range(1, 6)]
    known = {d.device_id: d.key.public_key() for d in fleet}
    known[fleet[-1].device_id] = Ed25519PrivateKey.generate().public_key()  # enrolled with another key
    origin = "http://veo.example:8443"
    paths: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        paths.append(ws.request.path if ws.request else "")
        nonce = bytes(range(32))
        await ws.send(DeviceChallenge(nonce=nonce.hex(), heartbeat_seconds=3600).dumps())
        hello = parse_device_message(await ws.recv())
        assert isinstance(hello, DeviceHello)
        try:
            known[hello.device_id].verify(
                bytes.fromhex(hello.signature), auth_payload(nonce, hello.device_id, origin)
            )
        except InvalidSignature:
            await ws.send(DeviceRefused(reason="bad_signature").dumps())
            return
        await ws.send(DeviceWelcome(device_name="d", group="g", policy="ask", organization="o").dumps())
        await ws.wait_closed()

    async with serve(handler, HOST, 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        node = Node("node1", port, cast(Any, None), tmp_path / "node1.log")
        async with devices.holding_devices(
            [node], fleet, origin=origin, first_index=0, progress=print
        ) as held:
            assert len(held.sockets) == 4 and held.per_node == {"node1": 4}
            assert held.failures == {"PeerError: device_refused bad_signature instead of device_welcome": 1}
            assert len(held.connect_ms) == 4 and all(ms > 0 for ms in held.connect_ms)
            assert held.beats.period == 3600 and held.still_open() == 4
            # each device came from its own loopback address
            assert len({ws.local_address[0] for ws in held.sockets}) == 4
    assert paths == ["/ws/device"] * 5


def test_one_device_is_compared_with_one_agent_of_the_same_run() -> None:
    from veo.bench.signaling.report import DeviceFigures, IdleFigures, Scenario, devices_vs_agents, table

    agents = IdleFigures(agents=1000, held=1000, join_seconds=10.0, duration_s=10.0)
    agents.rss_before_kib, agents.rss_after_kib = {"node1": 100_000}, {"node1": 160_000}  # 60 KiB each
    agents.pss_before_kib, agents.pss_after_kib = {"node1": 100_000}, {"node1": 164_000}
    agents.idle_cpu_s = {"node1": 4.0}  # 40 % for 1000
    devices = DeviceFigures(devices=500, held=500, duration_s=10.0, baseline_s=5.0)
    devices.rss_before_kib, devices.rss_after_kib = {"node1": 90_000}, {"node1": 105_000}  # 30 KiB each
    devices.pss_before_kib, devices.pss_after_kib = {"node1": 90_000}, {"node1": 106_000}
    devices.idle_cpu_s, devices.baseline_cpu_s = {"node1": 1.0}, {"node1": 0.05}  # 10 % for 500
    # 500 agents beside the devices on the same node: 40 KiB each
    devices.beside_agents = devices.beside_agents_held = 500
    devices.beside_rss_before_kib, devices.beside_rss_after_kib = {"node1": 105_000}, {"node1": 125_000}
    devices.beside_pss_before_kib, devices.beside_pss_after_kib = {"node1": 106_000}, {"node1": 138_000}
    assert (devices.kib_per_device_rss, devices.kib_per_beside_agent_rss) == (30.0, 40.0)
    assert (devices.cpu_percent, devices.baseline_cpu_percent) == (10.0, 1.0)
    ratios = {"kib_rss": 0.75, "kib_pss": 0.5, "kib_rss_idle_table": 0.5, "cpu_per_connection": 0.5}
    assert devices_vs_agents(devices, agents) == ratios
    alone = devices_vs_agents(devices, None)
    assert alone["kib_rss"] == 0.75 and alone["cpu_per_connection"] is None
    printed = table([Scenario(nodes=1, database="sqlite", bus="memory", idle=agents, devices=devices)])
    assert "Managed devices" in printed and "KiB/dev RSS" in printed
    device_line = printed.splitlines()[-1].split()
    assert device_line[:3] == ["1", "sqlite+memory", "500"] and device_line[-3:] == ["40.0", "0.75", "0.50"]
