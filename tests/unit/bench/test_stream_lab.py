"""The shaped links: the tc command lines and the user-space emulator's queue arithmetic."""

from __future__ import annotations

import random

from veo.bench.stream.lab import NETWORKS, Network, linkemu_args, netem_args
from veo.bench.stream.linkemu import QUEUE_SECONDS, Direction


def test_office_is_half_the_rtt_each_way_at_20_mbit() -> None:
    assert netem_args(NETWORKS["office"], "vb-u") == [
        "qdisc", "replace", "dev", "vb-u", "root", "netem",
        "delay", "10ms", "rate", "20mbit", "limit", "1666",
    ]  # fmt: skip


def test_poor_has_loss_and_a_second_of_queue() -> None:
    args = netem_args(NETWORKS["poor"], "vb-t")
    assert args[:6] == ["qdisc", "replace", "dev", "vb-t", "root", "netem"]
    assert args[6:] == ["delay", "40ms", "loss", "0.5%", "rate", "2mbit", "limit", "166"]


def test_unshaped_removes_any_shaping() -> None:
    assert netem_args(NETWORKS["unshaped"], "vb-u") == ["qdisc", "del", "dev", "vb-u", "root"]
    assert not NETWORKS["unshaped"].shaped


def test_emulator_arguments_follow_the_network() -> None:
    assert linkemu_args(NETWORKS["poor"]) == ["80", "2", "0.5"]
    assert linkemu_args(Network("lan", rtt_ms=1)) == ["1", "0", "0"]


def test_descriptions_name_what_the_link_is() -> None:
    assert NETWORKS["poor"].describe() == "2 Mbit/s, 80 ms RTT, 0.5% loss"
    assert NETWORKS["unshaped"].describe() == "veth, no shaping"


def test_emulated_direction_serializes_at_the_rate_then_delays() -> None:
    direction = Direction(destination=0, delay=0.040, rate_bps=2e6, loss=0.0)
    rng = random.Random(1)
    first = direction.schedule(100.0, 1500, rng)
    second = direction.schedule(100.0, 1500, rng)
    assert first is not None and second is not None
    assert abs(first - (100.0 + 0.006 + 0.040)) < 1e-9  # 1500 B at 2 Mbit/s = 6 ms on the wire
    assert abs(second - first - 0.006) < 1e-9


def test_emulated_queue_drops_at_its_tail_when_full() -> None:
    direction = Direction(destination=0, delay=0.0, rate_bps=1e6, loss=0.0)
    rng = random.Random(1)
    results = [direction.schedule(0.0, 1500, rng) for _ in range(100)]  # 12 ms each: 1.2 s offered
    kept = [r for r in results if r is not None]
    assert results[-1] is None
    assert max(kept) <= QUEUE_SECONDS + 0.012 + 1e-9


def test_emulated_loss_is_about_the_configured_share() -> None:
    direction = Direction(destination=0, delay=0.0, rate_bps=None, loss=0.05)
    rng = random.Random(3)
    lost = sum(direction.schedule(0.0, 100, rng) is None for _ in range(20000))
    assert 800 < lost < 1200
