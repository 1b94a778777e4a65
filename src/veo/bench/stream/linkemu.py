"""A link emulator in user space, for kernels without ``sch_netem`` (this machine's has none).

``python -m veo.bench.stream.linkemu USER_NS TECH_NS RTT_MS RATE_MBIT LOSS_PERCENT``

It creates one TUN device in each namespace (``tu-u``, ``tu-t``; they vanish when it exits) and
carries every IP packet between them the way netem would on a veth: each direction has its own
serialization at the rate (a packet departs when the previous one has left), a tail-drop queue
of ~1 s of that rate, random loss, and a fixed one-way delay of half the round-trip time.
Prints ``ready`` once both devices exist; the lab then moves the link's addresses onto them.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import heapq
import os
import random
import select
import struct
import sys
import time
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
USER_TUN = "tu-u"
TECH_TUN = "tu-t"
#: the bottleneck's buffer: ~1 s of the link's rate, like a home router's (tail drop beyond it)
QUEUE_SECONDS = 1.0


def open_tun(namespace: str, name: str) -> int:
    """A TUN device called ``name`` created inside ``namespace`` (this process moves there)."""
    libc = ctypes.CDLL(None, use_errno=True)
    ns_fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(ns_fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns({namespace}) failed")
    finally:
        os.close(ns_fd)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


@dataclass
class Direction:
    """One way of the link: where packets go, and when the wire is free again."""

    destination: int
    delay: float
    rate_bps: float | None
    loss: float
    free_at: float = 0.0

    def schedule(self, now: float, size: int, rng: random.Random) -> float | None:
        """When a packet of ``size`` bytes arriving now is delivered; None when dropped."""
        if self.loss and rng.random() < self.loss:
            return None
        depart = now
        if self.rate_bps:
            start = max(now, self.free_at)
            if start - now > QUEUE_SECONDS:
                return None  # the queue is full: tail drop, as a router would
            self.free_at = start + size * 8 / self.rate_bps
            depart = self.free_at
        return depart + self.delay


def _first_in_line() -> None:
    """It stands for the network, not for a measured part: it must not be late because the
    measured programs keep both cores busy. Real-time FIFO priority when allowed (root), else nice."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (OSError, AttributeError):
        with contextlib.suppress(OSError):
            os.nice(-10)


def serve(user_ns: str, tech_ns: str, rtt_ms: float, rate_mbit: float, loss_percent: float) -> None:
    _first_in_line()
    user_fd = open_tun(user_ns, USER_TUN)
    tech_fd = open_tun(tech_ns, TECH_TUN)
    rate = rate_mbit * 1e6 if rate_mbit > 0 else None
    delay = rtt_ms / 2000
    directions = {
        user_fd: Direction(tech_fd, delay, rate, loss_percent / 100),
        tech_fd: Direction(user_fd, delay, rate, loss_percent / 100),
    }
    rng = random.Random(42)
    pending: list[tuple[float, int, int, bytes]] = []
    sequence = 0
    stats = Stats()
    print("ready", flush=True)
    while True:
        now = time.monotonic()
        timeout = max(0.0, pending[0][0] - now) if pending else 1.0
        readable, _, _ = select.select(list(directions), [], [], min(timeout, 1.0))
        now = time.monotonic()
        for fd in readable:
            direction = directions[fd]
            for _ in range(256):
                try:
                    packet = os.read(fd, 65535)
                except BlockingIOError:
                    break
                deliver = direction.schedule(now, len(packet), rng)
                if deliver is None:
                    stats.dropped += 1
                    continue
                heapq.heappush(pending, (deliver, sequence, direction.destination, packet))
                sequence += 1
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            due, _, destination, packet = heapq.heappop(pending)
            stats.delivered(now - due)
            with contextlib.suppress(OSError):  # the device went down: lost, as on a wire
                os.write(destination, packet)
        stats.maybe_report(now)


@dataclass
class Stats:
    """How faithful the emulator was: packets delivered late (this process not scheduled in time)."""

    count: int = 0
    dropped: int = 0
    late_2ms: int = 0
    worst: float = 0.0
    reported_at: float = 0.0

    def delivered(self, lateness: float) -> None:
        self.count += 1
        self.late_2ms += lateness > 0.002
        self.worst = max(self.worst, lateness)

    def maybe_report(self, now: float) -> None:
        if now - self.reported_at >= 5.0:
            self.reported_at = now
            print(
                f"delivered={self.count} dropped={self.dropped} late>2ms={self.late_2ms} "
                f"worst_late={self.worst * 1000:.1f}ms",
                file=sys.stderr,
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 5:
        print("usage: linkemu USER_NS TECH_NS RTT_MS RATE_MBIT LOSS_PERCENT", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        serve(args[0], args[1], float(args[2]), float(args[3]), float(args[4]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
