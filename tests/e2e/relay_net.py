"""Three network namespaces for the TURN test, and coturn started from the shipped configuration.

::

    agent's namespace (A)            relay's namespace (T)              console's namespace (C)
    uplink 10.97.1.2/24  <--veth-->  to-agent   10.97.1.1/24
                                     lo         10.97.0.1/32  coturn + veo server
                                     to-console 10.97.2.1/24  <--veth-->  uplink 10.97.2.2/24

A and C each have one route besides their own link: ``10.97.0.1/32`` through T. T forwards
nothing (``net.ipv4.ip_forward=0``), and IPv6 is off everywhere, so A and C cannot exchange a
single packet: whatever passes between the agent and the console goes through coturn (media)
or through veo's server (signaling, reached through ``tcp_forward.py`` on 127.0.0.1).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.certs import write_self_signed

from veo.bench.stream.turn import OVERRIDDEN, SHIPPED_CONF  # the keys the bench's copy sets itself too

from .netns import NamespaceError, NetworkNamespace
from .procs import LoggedProcess, Logs, wait_for

RELAY_ADDRESS = "10.97.0.1"
AGENT_LINK = ("10.97.1.1", "10.97.1.2")  # (relay side, agent side)
CONSOLE_LINK = ("10.97.2.1", "10.97.2.2")  # (relay side, console side)
TURN_PORT = 3478
TURNS_PORT = 443
FORWARDER = Path(__file__).with_name("tcp_forward.py")


def _run(*argv: str) -> None:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NamespaceError(f"`{' '.join(argv)}` failed: {result.stderr.strip()}")


class BareNamespace(NetworkNamespace):
    """A namespace with ``lo`` up, IPv6 and forwarding off; its links come from :class:`RelayNetwork`."""

    def create(self) -> None:
        _run("ip", "netns", "add", self.name)
        _run("ip", "-n", self.name, "link", "set", "lo", "up")
        for setting in ("net.ipv4.ip_forward=0", "net.ipv6.conf.all.disable_ipv6=1"):
            _run("ip", "netns", "exec", self.name, "sysctl", "-q", "-w", setting)


class RelayNetwork:
    """The three namespaces and their two links (see the module's drawing)."""

    def __init__(self, prefix: str) -> None:
        self.relay = BareNamespace(f"{prefix}-t")
        self.agent = BareNamespace(f"{prefix}-a")
        self.console = BareNamespace(f"{prefix}-c")

    def create(self) -> None:
        created: list[BareNamespace] = []
        try:
            for namespace in (self.relay, self.agent, self.console):
                namespace.create()
                created.append(namespace)
            t = self.relay.name
            _run("ip", "-n", t, "addr", "add", f"{RELAY_ADDRESS}/32", "dev", "lo")
            for side, link, device in (
                (self.agent, AGENT_LINK, "to-agent"),
                (self.console, CONSOLE_LINK, "to-console"),
            ):
                _run(
                    "ip",
                    "-n",
                    t,
                    "link",
                    "add",
                    device,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "uplink",
                    "netns",
                    side.name,
                )
                _run("ip", "-n", t, "addr", "add", f"{link[0]}/24", "dev", device)
                _run("ip", "-n", t, "link", "set", device, "up")
                _run("ip", "-n", side.name, "addr", "add", f"{link[1]}/24", "dev", "uplink")
                _run("ip", "-n", side.name, "link", "set", "uplink", "up")
                _run("ip", "-n", side.name, "route", "add", f"{RELAY_ADDRESS}/32", "via", link[0])
        except NamespaceError:
            for namespace in created:
                namespace.delete()
            raise

    def delete(self) -> None:
        for namespace in (self.console, self.agent, self.relay):
            namespace.delete()


def connect_result(namespace: NetworkNamespace, host: str, port: int) -> str:
    """``ok``, or the error, of a TCP connect to (host, port) from inside ``namespace``."""
    probe = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(({host!r}, {port}), timeout=3).close()\n"
        "    print('ok')\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__, exc.errno, exc.strerror)\n"
    )
    result = subprocess.run(
        namespace.command([sys.executable, "-c", probe]),
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return (result.stdout.strip() or result.stderr.strip())[-300:]


def forward(namespace: NetworkNamespace, port: int, target: str, workdir: Path, logs: Logs) -> LoggedProcess:
    """``127.0.0.1:port`` in ``namespace`` forwarded to ``target:port`` (signaling only)."""
    process = LoggedProcess(
        f"forwarder {namespace.name}",
        namespace.command([sys.executable, str(FORWARDER), f"127.0.0.1:{port}", f"{target}:{port}"]),
        workdir / f"forward-{namespace.name}.log",
    )
    logs.add(process)
    wait_for(
        f"the forwarder in {namespace.name}",
        lambda: connect_result(namespace, "127.0.0.1", port) == "ok",
        20,
        logs,
    )
    return process


def certificate(directory: Path, address: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``address`` (an IP SAN) and its key: coturn's TLS for turns:."""
    cert_path, key_path = write_self_signed(
        directory / "turn-cert.pem", directory / "turn-key.pem", ips=[address]
    )
    os.chmod(key_path, 0o600)
    return cert_path, key_path


def relay_configuration(secret: str, cert: Path, key: Path, workdir: Path) -> str:
    """The shipped ``deploy/turnserver.conf`` with this test's addresses, secret, files and logs.

    Everything else (denied peers, quotas, TLS versions, no CLI...) is kept as shipped, and one
    thing is relaxed: ``denied-peer-ip`` refuses 10.0.0.0/8, and these namespaces have no public
    address, so the relay's own address, where both peers' relay candidates live, is allowed as a
    peer. ONLY in this test's copy and only that one address (a /32): production keeps every
    private range denied.
    """
    kept = []
    for line in SHIPPED_CONF.read_text().splitlines():
        key_name = line.split("=", 1)[0].strip()
        if key_name and not key_name.startswith("#") and key_name in OVERRIDDEN:
            continue
        kept.append(line)
    text = "\n".join(kept)
    assert "REPLACE" not in "\n".join(
        kept_line for kept_line in kept if not kept_line.lstrip().startswith("#")
    ), "a placeholder of deploy/turnserver.conf is not overridden by the test"
    return (
        text
        + "\n"
        + "\n".join(
            [
                "# ---- the test's own values",
                f"listening-ip={RELAY_ADDRESS}",
                f"relay-ip={RELAY_ADDRESS}",
                f"static-auth-secret={secret}",
                "realm=veo.test",
                f"cert={cert}",
                f"pkey={key}",
                f"log-file={workdir / 'coturn-turn.log'}",
                f"pidfile={workdir / 'turnserver.pid'}",
                f"userdb={workdir / 'turndb'}",
                "# TEST ONLY: the relay's own private address is the one peer allowed (see above)",
                f"allowed-peer-ip={RELAY_ADDRESS}",
            ]
        )
        + "\n"
    )


def start_coturn(network: RelayNetwork, secret: str, workdir: Path, logs: Logs) -> tuple[LoggedProcess, Path]:
    """``turnserver`` in the relay's namespace; returns it and the certificate the agent must trust."""
    cert, key = certificate(workdir, RELAY_ADDRESS)
    conf = workdir / "turnserver.conf"
    conf.write_text(relay_configuration(secret, cert, key, workdir))
    process = LoggedProcess(
        "coturn", network.relay.command(["turnserver", "-c", str(conf)]), workdir / "coturn.log"
    )
    logs.add(process)

    def ready() -> bool:
        if not process.running():
            raise AssertionError(f"turnserver exited:\n{process.tail()}")
        return all(
            connect_result(network.agent, RELAY_ADDRESS, port) == "ok" for port in (TURN_PORT, TURNS_PORT)
        )

    wait_for("coturn to listen on 3478 and 443", ready, 30, logs)
    return process, cert


def tcp_peers(namespace: NetworkNamespace, port: int) -> list[str]:
    """The remote addresses of the established TCP connections to local ``port`` (``ss``)."""
    result = subprocess.run(
        namespace.command(["ss", "-Htn", "state", "established", f"( sport = :{port} )"]),
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return [line.split()[-1].rsplit(":", 1)[0] for line in result.stdout.splitlines() if line.strip()]


def listener(namespace: NetworkNamespace, host: str, port: int, workdir: Path, logs: Logs) -> LoggedProcess:
    """A TCP listener on (host, port) inside ``namespace``, to prove what can and cannot reach it."""
    script = (
        "import socket, time\n"
        "s = socket.socket()\n"
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(({host!r}, {port}))\n"
        "s.listen()\n"
        "print('listening', flush=True)\n"
        "time.sleep(600)\n"
    )
    process = LoggedProcess(
        f"listener {namespace.name}",
        namespace.command([sys.executable, "-c", script]),
        workdir / "listener.log",
    )
    logs.add(process)
    wait_for("the probe listener", lambda: "listening" in process.text(), 15, logs)
    return process
