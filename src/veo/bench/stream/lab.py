"""The bench's own little network: two namespaces joined by one veth pair, shaped with netem.

Layout (nothing here can reach outside these namespaces)::

    "user" namespace                              "tech" namespace
    Xvfb, workload, veo agent, veo server,        headless Chromium (veo console, noVNC),
    x11vnc, websockify                            a TCP relay 127.0.0.1:PORT -> server
    vb-u 10.77.0.1/24  <===== veth, netem =====>  vb-t 10.77.0.2/24

The media (WebRTC between the agent and Chromium) and the VNC websocket both cross the veth,
so the shaping applies to both and its byte counters compare like for like. Chromium reaches
the veo server through the relay on its own loopback so that the console page is a secure context
on ``http://127.0.0.1`` (the session cookie and WebCrypto need one), exactly as on a developer's
machine, while signaling still crosses the shaped link.

Both ends get netem with half the round-trip time as delay, the rate and the loss, so each
direction sees the same link. Kernels without ``sch_netem`` (such as this machine's) get the same
link from :mod:`.linkemu`, a user-space emulator between two TUN devices: for a shaped network the
two addresses move from the veth onto those devices (open TCP connections keep working), and back
onto the veth for the unshaped one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from veo.bench.stream.linkemu import QUEUE_SECONDS, TECH_TUN, USER_TUN
from veo.bench.stream.procs import BenchError, Proc, Processes, wait_for

USER_ADDRESS = "10.77.0.1"
TECH_ADDRESS = "10.77.0.2"
USER_DEVICE = "vb-u"
TECH_DEVICE = "vb-t"


@dataclass(frozen=True)
class Network:
    """A link like the user's: round-trip time, rate (None = unshaped) and loss each way."""

    name: str
    rtt_ms: float = 0.0
    rate_mbit: float | None = None
    loss_percent: float = 0.0

    @property
    def shaped(self) -> bool:
        return self.rtt_ms > 0 or self.rate_mbit is not None or self.loss_percent > 0

    def describe(self) -> str:
        if not self.shaped:
            return "veth, no shaping"
        parts = []
        if self.rate_mbit is not None:
            parts.append(f"{self.rate_mbit:g} Mbit/s")
        parts.append(f"{self.rtt_ms:g} ms RTT")
        if self.loss_percent:
            parts.append(f"{self.loss_percent:g}% loss")
        return ", ".join(parts)


NETWORKS: dict[str, Network] = {
    "unshaped": Network("unshaped"),
    "office": Network("office", rtt_ms=20, rate_mbit=20),
    "poor": Network("poor", rtt_ms=80, rate_mbit=2, loss_percent=0.5),
}


def netem_args(network: Network, device: str) -> list[str]:
    """``tc`` arguments that give ``device`` this network's egress (``replace``: re-runnable)."""
    if not network.shaped:
        return ["qdisc", "del", "dev", device, "root"]
    args = ["qdisc", "replace", "dev", device, "root", "netem"]
    if network.rtt_ms > 0:
        args += ["delay", f"{network.rtt_ms / 2:g}ms"]
    if network.loss_percent > 0:
        args += ["loss", f"{network.loss_percent:g}%"]
    if network.rate_mbit is not None:
        args += ["rate", f"{network.rate_mbit:g}mbit"]
        packets = int(network.rate_mbit * 1e6 * QUEUE_SECONDS / 8 / 1500)
        args += ["limit", str(max(64, packets))]
    return args


def linkemu_args(network: Network) -> list[str]:
    """The user-space emulator's arguments for this network (rate 0 = unlimited)."""
    return [f"{network.rtt_ms:g}", f"{network.rate_mbit or 0:g}", f"{network.loss_percent:g}"]


def _run(argv: Sequence[str]) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        raise BenchError(f"`{' '.join(argv)}` failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


class Lab:
    """The two namespaces and their link; :meth:`close` removes everything (idempotent)."""

    def __init__(self, procs: Processes, tag: str | None = None) -> None:
        tag = tag or str(os.getpid())
        self.procs = procs
        self.user = f"veo-bench-{tag}-user"
        self.tech = f"veo-bench-{tag}-tech"
        self._made: list[str] = []
        self._emulator: Proc | None = None
        self._netem: bool | None = None
        self.devices = (USER_DEVICE, TECH_DEVICE)
        self.shaping = "none"
        #: the tech side's other links whose bytes count as the console's (the relay's leg)
        self.extra_tech_devices: list[str] = []

    def open(self) -> None:
        try:
            for name in (self.user, self.tech):
                _run(["ip", "netns", "add", name])
                self._made.append(name)
                _run(["ip", "-n", name, "link", "set", "lo", "up"])
            _run(
                ["ip", "-n", self.user, "link", "add", USER_DEVICE, "type", "veth",
                 "peer", "name", TECH_DEVICE, "netns", self.tech]
            )  # fmt: skip
            for name, device in ((self.user, USER_DEVICE), (self.tech, TECH_DEVICE)):
                _run(["ip", "-n", name, "link", "set", device, "up"])
            self._addresses_on((USER_DEVICE, TECH_DEVICE))
        except BenchError:
            self.close()
            raise

    def close(self) -> None:
        self._stop_emulator()
        while self._made:
            subprocess.run(["ip", "netns", "del", self._made.pop()], capture_output=True, check=False)

    def in_user(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.user, *argv]

    def in_tech(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.tech, *argv]

    def _addresses_on(self, devices: tuple[str, str]) -> None:
        """Put 10.77.0.1 (user) and 10.77.0.2 (tech) on ``devices``, off the other link."""
        for name, device, address in (
            (self.user, devices[0], USER_ADDRESS),
            (self.tech, devices[1], TECH_ADDRESS),
        ):
            subprocess.run(
                ["ip", "-n", name, "addr", "flush", "to", f"{address}/32"], capture_output=True, check=False
            )
            _run(["ip", "-n", name, "addr", "add", f"{address}/24", "dev", device])
            _run(["ip", "-n", name, "link", "set", device, "up"])
        self.devices = devices

    def _stop_emulator(self) -> None:
        if self._emulator is not None:
            self.procs.stop(self._emulator)
            self._emulator = None

    def _has_netem(self) -> bool:
        if self._netem is None:
            probe = subprocess.run(
                self.in_user(["tc", *netem_args(Network("probe", rtt_ms=1), USER_DEVICE)]),
                capture_output=True, check=False, timeout=30,
            )  # fmt: skip
            self._netem = probe.returncode == 0
            subprocess.run(
                self.in_user(["tc", "qdisc", "del", "dev", USER_DEVICE, "root"]), capture_output=True
            )
        return self._netem

    def shape(self, network: Network) -> None:
        """Give the link this network's characteristics, in both directions."""
        self._stop_emulator()
        if self.devices != (USER_DEVICE, TECH_DEVICE):
            self._addresses_on((USER_DEVICE, TECH_DEVICE))
        if not network.shaped:
            for name, device in ((self.user, USER_DEVICE), (self.tech, TECH_DEVICE)):
                subprocess.run(["ip", "netns", "exec", name, "tc", "qdisc", "del", "dev", device, "root"],
                               capture_output=True, check=False)  # fmt: skip
            self.shaping = "none"
            return
        if self._has_netem():
            for name, device in ((self.user, USER_DEVICE), (self.tech, TECH_DEVICE)):
                _run(["ip", "netns", "exec", name, "tc", *netem_args(network, device)])
            self.shaping = "netem"
            return
        emulator = self.procs.start(
            f"linkemu-{network.name}",
            [sys.executable, "-m", "veo.bench.stream.linkemu", self.user, self.tech, *linkemu_args(network)],
            stdout_pipe=True,
        )
        self._emulator = emulator
        assert emulator.proc.stdout is not None
        stdout = emulator.proc.stdout
        wait_for("the link emulator", lambda: stdout.readline().strip() == b"ready", 30, emulator)
        self._addresses_on((USER_TUN, TECH_TUN))
        self.shaping = "user-space emulator (no sch_netem in this kernel)"

    def tech_bytes(self) -> tuple[int, int]:
        """(received, sent) bytes on the tech side's links: what crossed them (the direct link,
        and the relay's leg when there is one, so the direct and relay paths compare alike)."""
        received = sent = 0
        for device in (self.devices[1], *self.extra_tech_devices):
            data = json.loads(_run(["ip", "-n", self.tech, "-s", "-j", "link", "show", "dev", device]))
            stats = data[0]["stats64"]
            received += int(stats["rx"]["bytes"])
            sent += int(stats["tx"]["bytes"])
        return received, sent

    def set_link(self, up: bool) -> float:
        """Take the link down (or bring it back) at both ends, as a cable pulled or a Wi-Fi gone;
        returns when the change was made, in wall-clock milliseconds (the probe's clock).

        Addresses stay on the devices; their routes leave with the link and come back with it.
        The relay's legs are not touched (the drop scenario runs on the direct path).
        """
        state = "up" if up else "down"
        for name, device in ((self.user, self.devices[0]), (self.tech, self.devices[1])):
            _run(["ip", "-n", name, "link", "set", device, state])
        return time.time() * 1000

    def netns_inode(self, name: str) -> int:
        """The inode that identifies namespace ``name`` (compare with ``/proc/<pid>/ns/net``)."""
        return os.stat(f"/run/netns/{name}").st_ino
