"""CPU, memory and statistics: the figures around the probe's latencies.

CPU is the processes' own user+system time over the wall time of the window, in percent of one
core (100 % = one core busy), summed over a group of processes and their children; a process that
appears during the window counts from zero, one that vanished counts up to its last reading.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psutil


def percentile(values: list[float], fraction: float) -> float | None:
    """The ``fraction`` percentile (0..1) with linear interpolation; None when there is no value."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: list[float]) -> float | None:
    return percentile(values, 0.5)


def median_of(values: Iterable[float | None]) -> float | None:
    """The median of the values that exist (runs that measured something)."""
    present = [v for v in values if v is not None]
    return median(present)


def _tree(pids: Iterable[int]) -> dict[int, psutil.Process]:
    found: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            process = psutil.Process(pid)
            found[pid] = process
            for child in process.children(recursive=True):
                found[child.pid] = child
        except psutil.Error:
            continue
    return found


def _cpu_seconds(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


@dataclass
class Usage:
    cpu_percent: float
    rss_mb: float


class CpuMeter:
    """CPU and memory of the processes ``pids()`` names (and their children) over a window."""

    def __init__(self, pids: Callable[[], Iterable[int]]) -> None:
        self._pids = pids
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._start = {}
        for pid, process in _tree(self._pids()).items():
            seconds = _cpu_seconds(process)
            if seconds is not None:
                self._start[pid] = seconds
        self._last = dict(self._start)

    def stop(self) -> Usage:
        wall = max(time.monotonic() - self._t0, 1e-6)
        used = 0.0
        rss = 0
        seen = _tree(self._pids())
        for pid, process in seen.items():
            seconds = _cpu_seconds(process)
            if seconds is None:
                continue
            used += seconds - self._start.get(pid, 0.0)
            try:
                rss += process.memory_info().rss
            except psutil.Error:
                continue
        for pid, seconds in self._start.items():  # ended during the window: count what we saw
            if pid not in seen:
                used += self._last.get(pid, seconds) - seconds
        return Usage(cpu_percent=100.0 * used / wall, rss_mb=rss / 2**20)


def pids_in_namespace(inode: int, name: str) -> list[int]:
    """Processes called ``name`` living in the network namespace whose inode is ``inode``."""
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] != name:
                continue
            if os.stat(f"/proc/{process.pid}/ns/net").st_ino == inode:
                found.append(process.pid)
        except (OSError, psutil.Error):
            continue
    return found
