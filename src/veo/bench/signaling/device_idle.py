"""Idle managed devices: what N authenticated ``/ws/device`` sockets cost the nodes.

Measured on nodes started afresh for it, on a database of its own (``cli._devices_part``): a
node that just let 1,000 agents go keeps their freed memory for reuse, so devices measured after
them would look nearly free; devices held beside the agents would add their CPU to the agents'
figure; and nodes started on the agents' database would spend the measured windows ending the
sessions the agents left. On the fresh nodes:

1. ``WARM_UP`` devices connect first and stay (the device path's imports, buffers and database
   statements are paid once, as the agents' are by the warm-up set-up); not counted.
2. ``REST_SECONDS`` of rest, then the nodes' CPU over ``baseline`` seconds: the baseline the idle
   figure is read against (the node's own timers, the warm-up devices).
3. The N devices connect and authenticate (``devices.holding_devices``), each timed.
4. ``SETTLE_SECONDS`` later the nodes' memory is read again: per device = (after − before) ÷ held.
5. The nodes' CPU over ``duration`` seconds of idling: heartbeats, pings both ways, the throttled
   ``last_seen`` writes. Then how many sockets are still open, and how many devices the database
   lists as connected.
6. With the devices still connected, as many idle agents join the same nodes (``idle.holding``)
   and their memory is read the same way: an agent's cost on a heap in the same state, for the
   ratio. (The scenario's own idle agents joined after 100 set-ups and partly reuse what those
   freed, which makes them look cheaper than a fresh node's devices.)
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

from veo.bench.signaling.devices import CONNECT_CONCURRENCY, BenchDevice, HeldDevices, holding_devices, online
from veo.bench.signaling.idle import SETTLE_SECONDS, holding
from veo.bench.signaling.nodes import Node
from veo.bench.signaling.procfs import Usage
from veo.bench.signaling.report import DeviceFigures
from veo.bench.signaling.setups import percentile
from veo.bench.signaling.world import Waiting

#: Devices connected before the baseline is read, and kept; not counted.
WARM_UP = 10
#: Seconds the nodes rest after the warm-up before the baseline window.
REST_SECONDS = 3.0
#: The longest baseline window (the idle window is ``--duration``).
MAX_BASELINE_SECONDS = 10.0


def _cpu(end: dict[str, Usage], start: dict[str, Usage]) -> dict[str, float]:
    return {k: round(end[k].cpu_s - start[k].cpu_s, 2) for k in end}


def _connects(figures: DeviceFigures, held: HeldDevices) -> None:
    figures.held = len(held.sockets)
    figures.per_node = held.per_node
    figures.failures = held.failures
    figures.connect_seconds = held.connect_seconds
    figures.heartbeat_seconds = held.beats.period
    figures.compressed = held.compressed
    if held.connect_ms:
        figures.connect_p50_ms = round(statistics.median(held.connect_ms), 1)
        figures.connect_p95_ms = round(percentile(held.connect_ms, 0.95), 1)
        figures.connect_max_ms = round(max(held.connect_ms), 1)


async def measure_devices(
    nodes: list[Node],
    fleet: list[BenchDevice],
    *,
    origin: str,
    database_url: str,
    duration: float,
    first_index: int,
    progress: Callable[[str], None],
    beside: list[Waiting] | None = None,
) -> DeviceFigures:
    """Hold ``fleet[:WARM_UP]`` then the rest of ``fleet`` on ``nodes``; what the rest cost, and
    what agents joining ``beside`` (waiting sessions) cost next to them."""
    warm, counted = fleet[:WARM_UP], fleet[WARM_UP:]
    beside = beside or []
    figures = DeviceFigures(
        devices=len(counted), warm_up=len(warm), concurrency=CONNECT_CONCURRENCY, beside_agents=len(beside)
    )
    async with holding_devices(nodes, warm, origin=origin, first_index=first_index, progress=progress) as w:
        if w.failures:  # the device path does not work here: say why, measure nothing
            figures.failures = w.failures
            return figures
        await asyncio.sleep(REST_SECONDS)
        figures.baseline_s = min(duration, MAX_BASELINE_SECONDS)
        start = {n.name: n.usage() for n in nodes}
        await asyncio.sleep(figures.baseline_s)
        before = {n.name: n.usage() for n in nodes}
        figures.baseline_cpu_s = _cpu(before, start)
        figures.rss_before_kib = {k: u.rss_kib for k, u in before.items()}
        figures.pss_before_kib = {k: u.pss_kib for k, u in before.items()}
        progress(f"{len(nodes)} node(s): connecting {len(counted)} managed devices")
        async with holding_devices(
            nodes, counted, origin=origin, first_index=first_index + len(warm), progress=progress
        ) as held:
            _connects(figures, held)
            progress(f"{figures.held} devices authenticated in {held.connect_seconds:.0f} s; settling")
            await asyncio.sleep(SETTLE_SECONDS)
            after = {n.name: n.usage() for n in nodes}
            figures.rss_after_kib = {k: u.rss_kib for k, u in after.items()}
            figures.pss_after_kib = {k: u.pss_kib for k, u in after.items()}
            progress(f"measuring the nodes' CPU over {duration:.0f} s with the devices idle")
            beats = held.beats.sent
            began = time.monotonic()
            await asyncio.sleep(duration)
            end = {n.name: n.usage() for n in nodes}
            figures.duration_s = round(time.monotonic() - began, 2)
            figures.idle_cpu_s = _cpu(end, after)
            figures.heartbeats = held.beats.sent - beats
            figures.still_open = held.still_open()
            ids = [d.device_id for d in counted]
            figures.online_in_database = await asyncio.to_thread(online, database_url, ids)
            if beside:
                await _beside(nodes, beside, figures, first_index + len(fleet), progress)
    return figures


async def _beside(
    nodes: list[Node],
    beside: list[Waiting],
    figures: DeviceFigures,
    first_index: int,
    progress: Callable[[str], None],
) -> None:
    """Step 6: idle agents next to the devices, their memory only."""
    before = {n.name: n.usage() for n in nodes}
    figures.beside_rss_before_kib = {k: u.rss_kib for k, u in before.items()}
    figures.beside_pss_before_kib = {k: u.pss_kib for k, u in before.items()}
    progress(f"joining {len(beside)} idle agents beside the devices, for their memory")
    async with holding(nodes, beside, compression=True, progress=progress, first_index=first_index) as held:
        figures.beside_agents_held = len(held.sockets)
        figures.beside_failures = held.failures
        await asyncio.sleep(SETTLE_SECONDS)
        after = {n.name: n.usage() for n in nodes}
        figures.beside_rss_after_kib = {k: u.rss_kib for k, u in after.items()}
        figures.beside_pss_after_kib = {k: u.pss_kib for k, u in after.items()}
