"""The relay path: coturn in a third namespace that both sides of the bench's link reach.

Issue 13 asks what a session costs when it crosses a TURN relay (15-22 % of WebRTC calls need
one), measured beside the direct path in the same run. So the relay is Debian's ``turnserver``
started from the repository's hardened ``deploy/turnserver.conf`` with veo's REST secret, and a
second ``veo server`` with ``VEO_ICE_TRANSPORT_POLICY=relay`` hands both peers credentials for it::

    "user" namespace               "turn" namespace                   "tech" namespace
    agent, veo servers             coturn on 10.77.9.1 (lo)           Chromium
    vr-u 10.77.1.2  <--veth-->  vr-ut 10.77.1.1 | vr-tt 10.77.2.1  <--veth-->  vr-t 10.77.2.2

Each side has one route into it, ``10.77.9.1/32``; the turn namespace forwards nothing, so the
only thing crossing it is what coturn relays. The direct link (``vb-u``/``vb-t``) stays: the
console's signaling still crosses it, and the relay policy on both peers keeps the media off it.
The relay's legs are plain veths (never shaped): the relay scenario runs on the unshaped network.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path

from veo.bench.stream.procs import BenchError, Proc, Processes, wait_for

RELAY_ADDRESS = "10.77.9.1"
TURN_PORT = 3478
#: (device, address) per side of each leg: (in the user or tech namespace, in the turn namespace)
USER_LEG = (("vr-u", "10.77.1.2"), ("vr-ut", "10.77.1.1"))
TECH_LEG = (("vr-t", "10.77.2.2"), ("vr-tt", "10.77.2.1"))
SHIPPED_CONF = Path(__file__).resolve().parents[4] / "deploy" / "turnserver.conf"

#: What the bench's copy of the shipped configuration sets itself (addresses, secret, files, logs).
#: TLS is left out (``no-tls``): the bench measures ``turn:`` over UDP, the URL both peers get.
OVERRIDDEN = {
    "listening-ip",
    "relay-ip",
    "external-ip",
    "static-auth-secret",
    "realm",
    "cert",
    "pkey",
    "syslog",
    "proc-user",
    "proc-group",
}


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        raise BenchError(f"`{' '.join(argv)}` failed: {result.stderr.strip() or result.stdout.strip()}")


def relay_configuration(shipped: str, secret: str, workdir: Path) -> str:
    """The shipped configuration with the bench's addresses, secret and files.

    Everything else (denied peers, quotas including ``max-bps``, no CLI...) stays as shipped, so
    the figures are those of the relay an operator deploys. One thing is relaxed, as in the TURN
    end-to-end test: ``denied-peer-ip`` refuses 10.0.0.0/8 and both peers' relay candidates live
    on the relay's own private address, so that one address (a /32) is allowed as a peer.
    """
    kept = [line for line in shipped.splitlines() if line.split("=", 1)[0].strip() not in OVERRIDDEN]
    if any("REPLACE" in line for line in kept if not line.lstrip().startswith("#")):
        raise BenchError("a placeholder of deploy/turnserver.conf is not overridden by the bench")
    own = [
        "# ---- the bench's own values",
        f"listening-ip={RELAY_ADDRESS}",
        f"relay-ip={RELAY_ADDRESS}",
        f"static-auth-secret={secret}",
        "realm=veo.bench",
        "no-tls",
        f"log-file={workdir / 'coturn-turn.log'}",
        f"pidfile={workdir / 'turnserver.pid'}",
        f"userdb={workdir / 'turndb'}",
        "# BENCH ONLY: the relay's own private address is the one peer allowed (see above)",
        f"allowed-peer-ip={RELAY_ADDRESS}",
    ]
    return "\n".join([*kept, *own]) + "\n"


def server_settings(secret: str) -> dict[str, str]:
    """The relay ``veo server``'s environment: one UDP TURN URL, REST secret, relay only.

    One URL so that both peers use the same transport (the agent would take ``turns:`` first if
    it were listed, the browser UDP first): the figures are UDP relay against UDP direct.
    """
    return {
        "VEO_TURN_URLS": json.dumps([f"turn:{RELAY_ADDRESS}:{TURN_PORT}"]),
        "VEO_TURN_SECRET": secret,
        "VEO_ICE_TRANSPORT_POLICY": "relay",
    }


class TurnRelay:
    """The turn namespace, its two legs and coturn; :meth:`close` removes them (idempotent)."""

    def __init__(self, procs: Processes, user: str, tech: str, name: str, workdir: Path) -> None:
        self.procs = procs
        self.user, self.tech, self.name = user, tech, name
        self.workdir = workdir
        #: the REST secret shared by coturn and the relay veo server (never printed)
        self.secret = secrets.token_hex(32)
        self.proc: Proc | None = None
        self._made = False

    def open(self) -> None:
        if shutil.which("turnserver") is None:
            raise BenchError("the relay path needs coturn's turnserver (run `make system-packages`)")
        if not SHIPPED_CONF.exists():
            raise BenchError(f"the relay path needs the repository's {SHIPPED_CONF}")
        try:
            self._links()
            conf = self.workdir / "turnserver.conf"
            conf.write_text(relay_configuration(SHIPPED_CONF.read_text(), self.secret, self.workdir))
            conf.chmod(0o600)
            self.proc = self.procs.start(
                "coturn", ["ip", "netns", "exec", self.name, "turnserver", "-c", str(conf)]
            )
            proc = self.proc
            wait_for("coturn to listen on 3478", self._listening, 30, proc)
        except BaseException:
            self.close()
            raise

    def _links(self) -> None:
        _run(["ip", "netns", "add", self.name])
        self._made = True
        t = self.name
        _run(["ip", "-n", t, "link", "set", "lo", "up"])
        _run(["ip", "netns", "exec", t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"])
        _run(["ip", "-n", t, "addr", "add", f"{RELAY_ADDRESS}/32", "dev", "lo"])
        for side, ((device, address), (inner, gateway)) in ((self.user, USER_LEG), (self.tech, TECH_LEG)):
            _run(["ip", "-n", t, "link", "add", inner, "type", "veth", "peer", "name", device, "netns", side])
            _run(["ip", "-n", t, "addr", "add", f"{gateway}/24", "dev", inner])
            _run(["ip", "-n", t, "link", "set", inner, "up"])
            _run(["ip", "-n", side, "addr", "add", f"{address}/24", "dev", device])
            _run(["ip", "-n", side, "link", "set", device, "up"])
            _run(["ip", "-n", side, "route", "add", f"{RELAY_ADDRESS}/32", "via", gateway])

    def _listening(self) -> bool:
        probe = subprocess.run(
            ["ip", "netns", "exec", self.name, "ss", "-Hlun", f"( sport = :{TURN_PORT} )"],
            capture_output=True, text=True, check=False, timeout=20,
        )  # fmt: skip
        return RELAY_ADDRESS in probe.stdout

    def bytes(self) -> int:
        """Bytes through coturn's two legs, both directions: the relay operator's traffic."""
        total = 0
        for _, (inner, _) in (USER_LEG, TECH_LEG):
            argv = ["ip", "-n", self.name, "-s", "-j", "link", "show", "dev", inner]
            shown = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=20)
            data = json.loads(shown.stdout)
            stats = data[0]["stats64"]
            total += int(stats["rx"]["bytes"]) + int(stats["tx"]["bytes"])
        return total

    def close(self) -> None:
        if self.proc is not None:
            self.procs.stop(self.proc)
            self.proc = None
        if self._made:
            # the veths' other ends vanish with this namespace
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
            self._made = False
