"""System information for the technician, on its own consent: collect, show the user, then send.

The console asks (``sysinfo_request``, allowed once the user allowed the session); the agent
collects everything on a worker thread, and the user sees exactly that data in a window
(:mod:`veo.agent.ui.sysinfo`) with *Send* and *Don't send*. Only *Send* lets it leave, and what
leaves is the very dict that was shown (:class:`AgentSysinfo` keeps it; the window gets a copy).
*Don't send*, closing the window or the end of the session send nothing but ``sysinfo_declined``.

Fields: OS and version, hostname, CPU, memory, disks with free space, displays (``xrandr``),
network interfaces, uptime, top processes by CPU and by memory, and the versions of a configurable
list of programs (``VEO_AGENT_SYSINFO_PROGRAMS`` or ``--sysinfo-programs``, comma-separated names;
each run as ``<name> --version`` with a short timeout, first line kept).

Log lines: ``sysinfo requested``, ``sysinfo shown to the user fields=<names>``,
``sysinfo sent fields=<names> bytes=<n>``, ``sysinfo declined``, ``sysinfo ignored: <why>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import os
import platform
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import psutil

from veo.agent.bundle import user_environment
from veo.agent.events import SysinfoAsk, SysinfoClosed, UiEvent
from veo.protocol.datachannel import AgentDataMessage
from veo.protocol.sysinfo import Sysinfo, SysinfoDeclined, SysinfoRequest
from veo.tasks import spawn

log = logging.getLogger(__name__)

PROGRAMS_ENV = "VEO_AGENT_SYSINFO_PROGRAMS"
#: Programs a support technician commonly asks about; missing ones are reported as not found.
DEFAULT_PROGRAMS: tuple[str, ...] = ("python3", "firefox", "chromium", "libreoffice", "git", "ssh", "openssl")
VERSION_TIMEOUT = 3.0
TOP_PROCESSES = 8
MAX_PROGRAMS = 20
_PROGRAM_NAME = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")
#: Stay well under the protocol's 128 KiB per message.
MAX_BYTES = 96 * 1024

Info = dict[str, Any]


def parse_programs(text: str | None) -> tuple[str, ...]:
    """``"git, firefox"`` -> ``("git", "firefox")``; names only (no paths, no arguments), deduplicated.

    Raises ValueError naming the first bad entry, so a typo in the setting is a clear error.
    """
    if text is None:
        return DEFAULT_PROGRAMS
    names: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        if not _PROGRAM_NAME.match(name):
            raise ValueError(f"not a program name: {name[:64]!r}")
        if name not in names:
            names.append(name)
    if len(names) > MAX_PROGRAMS:
        raise ValueError(f"at most {MAX_PROGRAMS} programs")
    return tuple(names)


def programs_from_env() -> tuple[str, ...]:
    return parse_programs(os.environ.get(PROGRAMS_ENV))


# ---------------------------------------------------------------- collection


def _os() -> Info:
    info: Info = {"system": platform.system(), "release": platform.release(), "version": platform.version()}
    with contextlib.suppress(OSError):
        release = platform.freedesktop_os_release()
        info["name"] = release.get("PRETTY_NAME") or release.get("NAME", "")
    info["machine"] = platform.machine()
    return info


def _cpu() -> Info:
    model = platform.processor()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for row in f:
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    freq = None
    with contextlib.suppress(Exception):
        current = psutil.cpu_freq()
        freq = round(current.max or current.current) if current else None
    return {
        "model": model,
        "logical": psutil.cpu_count(logical=True),
        "physical": psutil.cpu_count(logical=False),
        "mhz": freq,
        "load_percent": psutil.cpu_percent(interval=0.3),
    }


def _memory() -> Info:
    vm = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return {"total": vm.total, "available": vm.available, "percent": vm.percent, "swap_total": swap.total}


def _disks() -> list[Info]:
    disks: list[Info] = []
    for part in psutil.disk_partitions(all=False):
        with contextlib.suppress(OSError):
            usage = psutil.disk_usage(part.mountpoint)
            disks.append(
                {
                    "mount": part.mountpoint,
                    "device": part.device,
                    "fstype": part.fstype,
                    "total": usage.total,
                    "free": usage.free,
                    "percent": usage.percent,
                }
            )
    return disks[:20]


_XRANDR_LINE = re.compile(r"^(\S+) connected( primary)? (\d+)x(\d+)\+(-?\d+)\+(-?\d+)")


def parse_xrandr(text: str) -> list[Info]:
    """Connected outputs with their geometry from ``xrandr --query``."""
    displays: list[Info] = []
    for row in text.splitlines():
        m = _XRANDR_LINE.match(row)
        if m:
            displays.append(
                {
                    "name": m.group(1),
                    "primary": bool(m.group(2)),
                    "width": int(m.group(3)),
                    "height": int(m.group(4)),
                    "x": int(m.group(5)),
                    "y": int(m.group(6)),
                }
            )
    return displays


def _displays() -> list[Info]:
    xrandr = shutil.which("xrandr")
    if not xrandr or not os.environ.get("DISPLAY"):
        return []
    try:
        done = subprocess.run(
            [xrandr, "--query"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            check=False,
            env=user_environment(),  # the one-file agent's libraries are not xrandr's
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_xrandr(done.stdout)


def _interfaces() -> list[Info]:
    stats = psutil.net_if_stats()
    result: list[Info] = []
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        addresses = [a.address for a in addrs if a.family in (socket.AF_INET, socket.AF_INET6) and a.address]
        macs = [a.address for a in addrs if a.family == psutil.AF_LINK and a.address]
        stat = stats.get(name)
        result.append(
            {
                "name": name,
                "up": bool(stat.isup) if stat else False,
                "mac": macs[0] if macs else "",
                "addresses": addresses[:8],
            }
        )
    return result[:30]


def _processes() -> tuple[list[Info], list[Info]]:
    procs = list(psutil.process_iter(["pid", "name", "username", "memory_info"]))
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(0.5)
    rows: list[Info] = []
    for p in procs:
        try:
            cpu = p.cpu_percent(None)
            mem = p.info["memory_info"]
            rows.append(
                {
                    "pid": p.info["pid"],
                    "name": (p.info["name"] or "")[:64],
                    "user": (p.info["username"] or "")[:32],
                    "cpu_percent": round(cpu, 1),
                    "rss": mem.rss if mem else 0,
                }
            )
        except psutil.Error:
            continue
    by_cpu = sorted(rows, key=lambda r: (-r["cpu_percent"], r["pid"]))[:TOP_PROCESSES]
    by_mem = sorted(rows, key=lambda r: (-r["rss"], r["pid"]))[:TOP_PROCESSES]
    return by_cpu, by_mem


def program_version(name: str) -> Info:
    """``<name> --version``'s first line (stdout or stderr), or why there is none."""
    path = shutil.which(name)
    if path is None:
        return {"name": name, "found": False, "version": ""}
    try:
        done = subprocess.run(
            [path, "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
            errors="replace",
            env=user_environment(),  # the one-file agent's libraries are not the program's
        )
    except subprocess.TimeoutExpired:
        return {"name": name, "found": True, "version": "", "error": "timeout"}
    except OSError as exc:
        return {"name": name, "found": True, "version": "", "error": type(exc).__name__}
    text = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return {"name": name, "found": True, "version": text[0][:200] if text else ""}


def collect(programs: Sequence[str] = DEFAULT_PROGRAMS) -> Info:
    """Everything the technician may get, as plain JSON-able values (sizes in bytes)."""
    by_cpu, by_mem = _processes()
    boot = psutil.boot_time()
    info: Info = {
        "os": _os(),
        "hostname": socket.gethostname(),
        "cpu": _cpu(),
        "memory": _memory(),
        "disks": _disks(),
        "displays": _displays(),
        "network": _interfaces(),
        "uptime_seconds": int(time.time() - boot),
        "processes_by_cpu": by_cpu,
        "processes_by_memory": by_mem,
        "programs": [program_version(name) for name in programs[:MAX_PROGRAMS]],
    }
    return fit(info)


def fit(info: Info) -> Info:
    """Trim the long lists until the whole fits one data-channel message."""
    for key in ("network", "disks", "processes_by_cpu", "processes_by_memory"):
        while len(json.dumps(info)) > MAX_BYTES and isinstance(info.get(key), list) and info[key]:
            info[key] = info[key][: len(info[key]) // 2]
    return info


# ---------------------------------------------------------------- the consent flow


class SysinfoPeer(Protocol):
    def on_data(self, message_type: str, handler: Callable[[Any], None]) -> None: ...

    def send_data(self, message: AgentDataMessage) -> None: ...

    def data_open(self) -> bool: ...


class AgentSysinfo:
    """One request at a time: collected, shown, then sent or declined by the user."""

    def __init__(
        self,
        peer: SysinfoPeer,
        post: Callable[[UiEvent], None],
        programs: Iterable[str] = DEFAULT_PROGRAMS,
        collector: Callable[[Sequence[str]], Info] = collect,
    ) -> None:
        self._peer = peer
        self._post = post
        self._programs = tuple(programs)
        self._collector = collector
        self._busy = False
        self._pending: Info | None = None
        self._task: asyncio.Task[None] | None = None
        peer.on_data("sysinfo_request", self._on_request)

    @property
    def pending(self) -> Info | None:
        return self._pending

    def _on_request(self, _message: SysinfoRequest) -> None:
        if self._busy:
            log.info("sysinfo ignored: a request is already open")
            return
        self._busy = True
        log.info("sysinfo requested")
        self._task = spawn(self._collect_and_ask(), name="veo-agent-sysinfo")

    async def _collect_and_ask(self) -> None:
        try:
            info = await asyncio.to_thread(self._collector, self._programs)
        except Exception:
            log.exception("sysinfo collection failed")
            self._busy = False
            self._peer.send_data(SysinfoDeclined())
            return
        self._pending = info
        log.info("sysinfo shown to the user fields=%s", ",".join(sorted(info)))
        self._post(SysinfoAsk(copy.deepcopy(info)))

    def send(self) -> None:
        """The user pressed *Send*: exactly the data they were shown leaves now."""
        info = self._pending
        self._pending = None
        self._busy = False
        if info is None:
            return
        if not self._peer.data_open():
            log.info("sysinfo not sent: the connection to the technician is not open")
            return
        message = Sysinfo(info=info)
        self._peer.send_data(message)
        log.info("sysinfo sent fields=%s bytes=%d", ",".join(sorted(info)), len(message.dumps()))

    def decline(self) -> None:
        """*Don't send* (or the window closed): nothing but the refusal leaves."""
        if self._pending is None and not self._busy:
            return
        self._pending = None
        self._busy = False
        self._peer.send_data(SysinfoDeclined())
        log.info("sysinfo declined")

    def close(self) -> None:
        """The session ended: forget what was collected, close the window."""
        self._pending = None
        self._busy = False
        if self._task is not None:
            self._task.cancel()
        self._post(SysinfoClosed())
