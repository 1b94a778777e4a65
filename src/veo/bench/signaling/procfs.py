"""What a process costs, read from ``/proc``: resident and proportional memory, CPU seconds.

``VmRSS`` counts every page the process maps, shared libraries included; ``Pss`` (from
``smaps_rollup``) divides shared pages among their users, which is the fairer figure when two
nodes share the interpreter's pages. Differences of either, taken around a load, are the load's
cost; absolute values include the interpreter and the app.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
#: Linux's default ``fs.nr_open``: the most a process may ask for when its hard limit is unlimited
_MOST_FILES = 1_048_576


@dataclass(frozen=True)
class Usage:
    rss_kib: int
    pss_kib: int
    #: user + system CPU seconds since the process started
    cpu_s: float


def _field(path: Path, name: str) -> int:
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def usage(pid: int) -> Usage:
    """The process's memory (KiB) and CPU seconds now; raises ``OSError`` once it is gone."""
    proc = Path("/proc", str(pid))
    rss = _field(proc / "status", "VmRSS")
    try:
        pss = _field(proc / "smaps_rollup", "Pss")
    except OSError:  # kernels without smaps_rollup: RSS is all there is
        pss = rss
    # the command name (field 2) may hold spaces: count fields after its closing parenthesis
    stat = (proc / "stat").read_text(encoding="ascii", errors="replace")
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return Usage(rss_kib=rss, pss_kib=pss, cpu_s=(utime + stime) / _TICKS)


def raise_open_files() -> int:
    """Lift this process's soft limit of open files to its hard limit (children inherit it);
    the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else _MOST_FILES
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted
