"""A coturn ``turnserver`` of the test's own: started, waited for, stopped.

Used by the doctor's TURN checks (on loopback) and the peer-filter test (in a namespace): both
run the shipped configuration, whose ``simple-log`` makes the log's name exactly ``turn.log``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

#: Seconds coturn gets to say its servers run before the test fails.
START_SECONDS = 20


def launch(command: Sequence[str], workdir: Path) -> subprocess.Popen[bytes]:
    """coturn run by ``command`` (``turnserver -c ...``, perhaps in a namespace), its output in
    ``workdir/stdout.log``; returned once ``workdir/turn.log`` says its servers run. If it exits
    or is late, the test fails with its output and the process is stopped."""
    with (workdir / "stdout.log").open("wb") as log:
        proc = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT)
    try:
        turn_log = workdir / "turn.log"
        deadline = time.monotonic() + START_SECONDS
        while not (turn_log.exists() and "Total General servers" in turn_log.read_text(errors="replace")):
            assert proc.poll() is None, (workdir / "stdout.log").read_text()
            assert time.monotonic() < deadline, "coturn did not start"
            time.sleep(0.1)
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ten seconds."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
