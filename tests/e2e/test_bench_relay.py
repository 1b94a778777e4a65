"""The wiring of ``veo bench stream --paths relay``: the bench's coturn namespace, without a session.

The whole relay scenario takes about a minute (a second veo server, a session through coturn), too
long for ``make bench-smoke``; this checks in a few seconds what it stands on: coturn starts from
the shipped ``deploy/turnserver.conf`` in its own namespace, both sides of the bench's link reach
it (a STUN binding answered), nothing else crosses that namespace, its traffic and the tech side's
leg are counted, and closing removes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from veo.bench.stream.lab import Lab
from veo.bench.stream.procs import Processes
from veo.bench.stream.turn import RELAY_ADDRESS, TECH_LEG, TURN_PORT, USER_LEG, TurnRelay

from .conftest import _unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

#: A STUN binding request from inside a namespace; prints the response's type (0x0101 = success).
_STUN = """
import os, socket, struct, sys
request = struct.pack("!HHI", 1, 0, 0x2112A442) + os.urandom(12)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
try:
    s.sendto(request, (sys.argv[1], int(sys.argv[2])))
    data, _ = s.recvfrom(2048)
    print(hex(struct.unpack("!H", data[:2])[0]))
except OSError as exc:
    print(type(exc).__name__, exc.errno)
"""


def _in(namespace: str, *argv: str) -> str:
    result = subprocess.run(
        ["ip", "netns", "exec", namespace, *argv], capture_output=True, text=True, timeout=30, check=False
    )
    return (result.stdout.strip() or result.stderr.strip())[-300:]


@pytest.fixture
def lab_with_relay() -> Iterator[tuple[Lab, TurnRelay]]:
    if os.geteuid() != 0:
        _unavailable("root (to create network namespaces)")
    if shutil.which("turnserver") is None:
        _unavailable("coturn's turnserver (run `make system-packages`)")
    workdir = Path(tempfile.mkdtemp(prefix="veo-bench-relay-"))
    procs = Processes(workdir)
    lab = Lab(procs, tag=f"r{os.getpid()}")
    turn = TurnRelay(procs, lab.user, lab.tech, f"veo-bench-r{os.getpid()}-turn", workdir)
    try:
        lab.open()
        turn.open()
        lab.extra_tech_devices.append(TECH_LEG[0][0])
        yield lab, turn
    finally:
        procs.stop_all()
        turn.close()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_both_sides_reach_coturn_and_nothing_else_crosses_its_namespace(
    lab_with_relay: tuple[Lab, TurnRelay],
) -> None:
    lab, turn = lab_with_relay
    relay_before, tech_before = turn.bytes(), sum(lab.tech_bytes())
    for side in (lab.user, lab.tech):
        assert _in(side, sys.executable, "-c", _STUN, RELAY_ADDRESS, str(TURN_PORT)) == "0x101", side
    # the two sides' legs do not lead to each other: no route, and the turn namespace forwards nothing
    user_leg_address = USER_LEG[0][1]
    answer = _in(lab.tech, sys.executable, "-c", _STUN, user_leg_address, str(TURN_PORT))
    assert answer.startswith("OSError 101"), answer  # ENETUNREACH
    assert _in(turn.name, "sysctl", "-n", "net.ipv4.ip_forward") == "0"
    # coturn's legs count both exchanges; the tech side's bytes include its leg
    assert turn.bytes() - relay_before >= 4 * 20
    assert sum(lab.tech_bytes()) - tech_before >= 2 * 20
    # the REST secret is coturn's and the relay server's alone: not in coturn's own log
    log = (turn.workdir / "coturn-turn.log").read_text(errors="replace")
    assert turn.secret not in log and len(turn.secret) == 64


def test_closing_removes_the_namespace_and_stops_coturn(lab_with_relay: tuple[Lab, TurnRelay]) -> None:
    _, turn = lab_with_relay
    proc = turn.proc
    assert proc is not None and proc.running()
    turn.close()
    assert not proc.running()
    assert turn.name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    turn.close()  # idempotent
