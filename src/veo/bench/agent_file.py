"""``veo bench agent-file``: the one-file agent as a user meets it: its size and how long it takes to show up.

Usage: ``veo bench agent-file [--file dist/agent/veo-agent-linux-x86_64] [--runs 5] [--json PATH]``.

Start time is measured to the code window: from just before ``exec`` until the X server maps the
agent's *Remote support* window, seen as a ``MapNotify`` on the root window of a private Xvfb (no
window manager: the agent's own top-level window is the root's child), read with python-xlib. The
file runs as a user would start it: ``env -i`` with ``PATH=/usr/bin:/bin``, a throwaway ``HOME``,
``LANG=C.UTF-8``, pointed at ``--server http://127.0.0.1:9`` (nothing listens: the code window comes
first, before any connection). Each start is ended with SIGTERM, which the one-file bootloader
passes on to the agent, so it removes its unpacked copy.

What is measured, each the median of ``--runs`` (every start with a new ``HOME``):

* **first start**: the file's pages dropped from the page cache first (``posix_fadvise``
  ``DONTNEED``): as after a reboot, or a download written out long ago;
* **warm start**: right after another start (the file in the page cache); the one-file build
  unpacks itself into a new temporary folder on every start, so warm is not free either;
* ``--help``: to exit, for the part of a start that is unpacking Python and the agent's imports.

Also reported: the size, and the glibc floor from the manifest beside the file
(``veo-agent-linux-x86_64.json``, written by ``packaging/build_agent.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_FILE = Path("dist/agent/veo-agent-linux-x86_64")
#: What the agent's code window is called (English: the runs use ``LANG=C.UTF-8``).
CODE_WINDOW_TITLE = "Remote support"
FIRST_DISPLAY = 700
START_TIMEOUT_S = 60.0


class BenchError(Exception):
    """Why the measurement could not be made, as a sentence."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], _: Callable[[str], str]) -> None:
    bench = sub.add_parser(
        "agent-file",
        help=_("measure the one-file agent: its size and its start time to the code window"),
        description=_(
            "Start the one-file agent built by make agent on a private Xvfb, as a user would (env -i, "
            "a new HOME), and time it until its code window is shown."
        ),
    )
    bench.add_argument(
        "--file", type=Path, default=DEFAULT_FILE, help=_("the one-file agent (default: %(default)s)")
    )
    bench.add_argument("--runs", type=int, default=5, help=_("starts of each kind (default: 5)"))
    bench.add_argument("--json", type=Path, metavar="PATH", help=_("also write the figures as JSON"))


def main(args: argparse.Namespace) -> int:
    try:
        result = measure(
            args.file, max(1, args.runs), progress=lambda m: print(m, file=sys.stderr, flush=True)
        )
    except BenchError as exc:
        print(f"veo bench agent-file: {exc}", file=sys.stderr)
        return 1
    print(report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def measure(file: Path, runs: int, progress: Callable[[str], None]) -> dict[str, Any]:
    file = file.resolve()
    if not file.is_file() or not os.access(file, os.X_OK):
        raise BenchError(f"{file} is not an executable file: build it with make agent")
    for tool in ("Xvfb", "env"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is missing (the Xvfb package)")
    manifest = _manifest(file)
    with _xvfb() as display, tempfile.TemporaryDirectory(prefix="veo-bench-agent-file-") as scratch:
        work = Path(scratch)
        help_s = [_help_time(file, work / f"help-{n}") for n in range(runs)]
        progress(f"--help: median {statistics.median(help_s):.2f} s")
        first: list[float] = []
        warm: list[float] = []
        for n in range(runs):
            _drop_from_page_cache(file)
            first.append(_start_time(file, display, work / f"first-{n}"))
            warm.append(_start_time(file, display, work / f"warm-{n}"))
            progress(f"start {n + 1}/{runs}: first {first[-1]:.2f} s, warm {warm[-1]:.2f} s")
    return {
        "file": str(file),
        "size_bytes": file.stat().st_size,
        "version": manifest.get("version", ""),
        "glibc": manifest.get("glibc", ""),
        "runs": runs,
        "first_start_s": round(statistics.median(first), 3),
        "warm_start_s": round(statistics.median(warm), 3),
        "help_s": round(statistics.median(help_s), 3),
        "first_start_all_s": [round(v, 3) for v in first],
        "warm_start_all_s": [round(v, 3) for v in warm],
        "help_all_s": [round(v, 3) for v in help_s],
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def report(result: dict[str, Any]) -> str:
    size_mb = result["size_bytes"] / 1e6
    return "\n".join(
        [
            f"file          {result['file']}",
            f"size          {size_mb:.1f} MB ({result['size_bytes']} bytes)",
            f"glibc floor   {result['glibc'] or 'unknown (no manifest)'}",
            f"first start   {result['first_start_s']:.2f} s to the code window (median of {result['runs']})",
            f"warm start    {result['warm_start_s']:.2f} s to the code window (median of {result['runs']})",
            f"--help        {result['help_s']:.2f} s to exit (median of {result['runs']})",
            f"machine       {result['cpus']} CPUs, load {result['load_average_1min']} at the end",
        ]
    )


def _manifest(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.with_name(file.name + ".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class _xvfb:
    """A private Xvfb (explicit display number, its lock taken) for the whole measurement."""

    def __enter__(self) -> str:
        first = FIRST_DISPLAY + os.getpid() % 200
        for number in range(first, first + 40):
            if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
                continue
            self.process = subprocess.Popen(
                ["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            socket = Path(f"/tmp/.X11-unix/X{number}")
            deadline = time.monotonic() + 30
            while self.process.poll() is None and not socket.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.process.poll() is None and socket.exists():
                self.name = f":{number}"
                return self.name
            self.__exit__()
        raise BenchError("no Xvfb display could be started")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _bare_env(home: Path, *extra: str) -> list[str]:
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / "tmp"
    tmp.mkdir(exist_ok=True)
    # TMPDIR on the same disk as /tmp: the bootloader unpacks there, and leaves nothing in /tmp
    return ["env", "-i", "PATH=/usr/bin:/bin", f"HOME={home}", f"TMPDIR={tmp}", "LANG=C.UTF-8", *extra]


def _help_time(file: Path, home: Path) -> float:
    started = time.monotonic()
    result = subprocess.run(
        [*_bare_env(home), str(file), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    took = time.monotonic() - started
    if result.returncode != 0:
        raise BenchError(f"{file} --help failed ({result.returncode}): {result.stderr.strip()[-300:]}")
    return took


def _drop_from_page_cache(file: Path) -> None:
    """The file's pages out of the page cache (its pages are clean: nothing to write back)."""
    fd = os.open(file, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _start_time(file: Path, display: str, home: Path) -> float:
    """Seconds from exec until the code window is mapped; the agent is then ended with SIGTERM."""
    from Xlib import X
    from Xlib import display as xdisplay

    conn = xdisplay.Display(display)
    try:
        root = conn.screen().root
        root.change_attributes(event_mask=X.SubstructureNotifyMask)
        conn.sync()
        home.mkdir(parents=True, exist_ok=True)
        log = (home / "output.log").open("w")
        started = time.monotonic()
        process = subprocess.Popen(
            [*_bare_env(home, f"DISPLAY={display}"), str(file), "--server", "http://127.0.0.1:9"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            took = _wait_for_window(conn, process, started)
        finally:
            _end(process)
            log.close()
        if took is None:
            output = (home / "output.log").read_text(errors="replace").strip()[-500:]
            raise BenchError(f"the code window did not appear within {START_TIMEOUT_S:.0f} s: {output}")
        return took
    finally:
        conn.close()


def _wait_for_window(conn: Any, process: subprocess.Popen[bytes], started: float) -> float | None:
    from Xlib import X
    from Xlib.error import XError

    deadline = started + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        while conn.pending_events():
            event = conn.next_event()
            if event.type != X.MapNotify:
                continue
            seen = time.monotonic()
            try:
                name = event.window.get_wm_name()
            except XError:
                continue
            if name == CODE_WINDOW_TITLE:
                return seen - started
        select.select([conn.fileno()], [], [], 0.05)
    return None


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
