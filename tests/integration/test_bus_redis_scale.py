"""How the Redis bus carries 10,000 subscriptions on one node: measured and printed, not timed.

One ``RedisBus`` (one node) holds ``VEO_BUS_SCALE`` subscriptions (default 10,000, one channel
each, as 10,000 idle agents), against a redis-server of the test's own. The test asserts only
outcomes (one pub/sub connection, every message and every RESYNC delivered); the figures are
printed for docs/performance.md (run with ``-s``).
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from tests.integration.redis_process import RedisProcess, running_redis
from tests.integration.test_bus_redis import PATIENCE

from veo.server.bus.base import RESYNC
from veo.server.bus.redis import RedisBus

pytestmark = pytest.mark.timeout(300)

COUNT = int(os.environ.get("VEO_BUS_SCALE", "10000"))
SAMPLES = 500
MEASURED = min(COUNT, 1000)
BURST = 500


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisProcess]:
    with running_redis(tmp_path) as process:
        yield process


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def test_ten_thousand_subscriptions_on_one_node(server: RedisProcess) -> None:
    bus, publisher = RedisBus(server.url), RedisBus(server.url)
    admin = server.client()
    try:
        async with AsyncExitStack() as stack:
            redis_before = int(admin.info("memory")["used_memory"])
            inboxes = []

            async def subscribe(first: int, last: int) -> None:
                names = [f"agent-{i}" for i in range(first, last)]
                inboxes.extend(
                    await asyncio.gather(*(stack.enter_async_context(bus.subscribe(n)) for n in names))
                )

            # memory on the first MEASURED subscriptions (tracemalloc slows what it watches)
            tracemalloc.start()
            python_before = tracemalloc.get_traced_memory()[0]
            for first in range(0, MEASURED, BURST):
                await subscribe(first, min(MEASURED, first + BURST))
            python_per_sub = (tracemalloc.get_traced_memory()[0] - python_before) / MEASURED
            tracemalloc.stop()
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            for first in range(MEASURED, COUNT, BURST):
                await subscribe(first, min(COUNT, first + BURST))
            subscribe_seconds = time.perf_counter() - started
            rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
            redis_per_sub = (int(admin.info("memory")["used_memory"]) - redis_before) / COUNT
            connections = sum(c["name"].startswith("veo-bus") for c in admin.client_list())

            listening = [c for c in admin.client_list() if int(c["sub"]) > 0]
            assert [int(c["sub"]) for c in listening] == [COUNT]

            publish_ms: list[float] = []
            delivered_ms: list[float] = []
            for n in range(SAMPLES):
                target = (n * 7919) % COUNT
                sent = time.perf_counter()
                await publisher.publish(f"agent-{target}", f"hello-{n}")
                publish_ms.append((time.perf_counter() - sent) * 1000)
                async with asyncio.timeout(PATIENCE):
                    assert await anext(inboxes[target]) == f"hello-{n}"
                delivered_ms.append((time.perf_counter() - sent) * 1000)

            # the pub/sub connection dropped (Redis up): resubscribe and replay for every channel
            started = time.perf_counter()
            admin.client_kill_filter(_type="pubsub")
            for inbox in inboxes:
                async with asyncio.timeout(PATIENCE):
                    assert await anext(inbox) == RESYNC
            catch_up_seconds = time.perf_counter() - started

        print(
            f"\nRedis bus, {COUNT} subscriptions on one node (one channel each):"
            f"\n  subscribe {COUNT - MEASURED} more, {BURST} at a time: {subscribe_seconds:.2f} s"
            f" ({(COUNT - MEASURED) / max(subscribe_seconds, 1e-9):.0f} per second)"
            f"\n  Redis connections of the node after that burst: {connections}"
            f"\n  Python memory per subscription (tracemalloc, first {MEASURED}):"
            f" {python_per_sub / 1024:.2f} KiB"
            f"\n  process peak RSS growth over those {COUNT - MEASURED}: {rss_growth / 1024:.1f} MiB"
            f"\n  Redis memory per subscribed channel: {redis_per_sub:.0f} B"
            f"\n  publish round trip over {SAMPLES}: p50 {statistics.median(publish_ms):.2f} ms,"
            f" p95 {_percentile(publish_ms, 0.95):.2f} ms"
            f"\n  publish to delivery: p50 {statistics.median(delivered_ms):.2f} ms,"
            f" p95 {_percentile(delivered_ms, 0.95):.2f} ms"
            f"\n  pub/sub connection killed -> RESYNC on all {COUNT}: {catch_up_seconds:.2f} s"
        )
    finally:
        admin.close()
        await bus.close()
        await publisher.close()
