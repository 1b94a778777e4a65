"""veo on several nodes, as an operator runs it: ``veo server`` processes sharing one PostgreSQL
database and one Redis, behind HAProxy configured from ``deploy/haproxy/haproxy.cfg``.

Everything runs inside the test's network namespace (``tests/e2e/netns.py``), because the peers
do: the real agent and Chromium reach veo at ``http://127.0.0.1:8765`` there (the agent accepts
plain ``ws://`` only to this computer), and their media needs the namespace's veth addresses.

* **PostgreSQL** is the machine's server: the test process creates a fresh database on
  ``127.0.0.1:5432`` and the nodes, inside the namespace, reach the same server through its Unix
  socket (``/var/run/postgresql``; a path on the file system, which a network namespace does
  not hide).
* **Redis** is a ``redis-server`` of our own inside the namespace (:mod:`redis_server`): the
  system one listens on the host's loopback only, out of the namespace's reach, and the Redis
  fault is a kill -9 and a restart that must not touch the machine's service.
* **The nodes** each have their own data directory, as on separate machines; the keys that must
  be the same everywhere (``keys/``: the join-code secret and the TOTP key; ``audit/``: the
  audit signing key) are copied from the first node's, as ``docs/deploy.md`` tells operators.
* **HAProxy** runs the deploy file unchanged, plus ``haproxy-runtime.cfg`` (its runtime API on a
  Unix socket), which the tests use to pin a new connection to one node (the others drained) and
  to read which nodes it thinks are up.

:class:`Cluster` is a :class:`~tests.e2e.stack.VeoServer` for the rest of the e2e code (its
``url`` is the proxy's; ``cli``/``admin`` run on the shared database with node 1's data
directory; ``api``/``token`` go through the proxy), so ``start_session`` and ``Console`` work
unchanged.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.e2e.netns import NetworkNamespace
from tests.e2e.procs import LoggedProcess, Logs, wait_for
from tests.e2e.stack import SERVER_PORT, TECH_EMAIL, TECH_NAME, TECH_PASSWORD, VEO, VeoServer

REPO = Path(__file__).resolve().parents[2]
HAPROXY_CONFIG = REPO / "deploy" / "haproxy" / "haproxy.cfg"
RUNTIME_CONFIG = Path(__file__).with_name("haproxy-runtime.cfg")
NODE_PORTS = (8801, 8802, 8803)
#: What each node shares with the others (copied from node 1 after it made them).
SHARED_KEY_FILES = ("keys", "audit/audit_ed25519.pem", "audit/audit_ed25519.pub.pem")
BACKEND = "veo_nodes"
START_TIMEOUT = 60.0


class NodeProcess(LoggedProcess):
    """A node's process whose log tail (in failure reports) leaves out HAProxy's health checks:
    one ``GET /readyz`` a second would push everything else out of the tail."""

    def tail(self, lines: int = 40) -> str:
        kept = [line for line in self.text().splitlines() if '"GET /readyz ' not in line]
        return "\n".join(kept[-lines:])


@dataclass(frozen=True)
class SharedDatabase:
    """The nodes' database: ``nodes_url`` as the nodes in the namespace reach it (a Unix socket),
    ``test_url`` as the test process does (TCP on the host's loopback)."""

    nodes_url: str
    test_url: str


class Node:
    """One ``veo server`` process on ``127.0.0.1:<port>`` in the namespace, with its data directory."""

    def __init__(self, netns: NetworkNamespace, index: int, workdir: Path, env: dict[str, str]) -> None:
        self.netns = netns
        self.index = index
        self.name = f"node{index}"
        self.port = NODE_PORTS[index - 1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = workdir / self.name
        self.data_dir.mkdir(exist_ok=True)
        self.log_path = workdir / f"{self.name}.log"
        self.env = {**env, "VEO_DATA_DIR": str(self.data_dir)}
        self.process: LoggedProcess | None = None
        self.starts = 0

    def start(self, logs: Logs | None = None) -> None:
        """Start the process (again: same data directory, log appended) and wait for ``/readyz``."""
        self.launch(logs)
        self.wait_ready(logs)

    def launch(self, logs: Logs | None = None) -> None:
        """Start the process without waiting (several nodes start side by side)."""
        self.starts += 1
        label = f"veo server {self.name}" + (f" (start {self.starts})" if self.starts > 1 else "")
        self.process = NodeProcess(
            label,
            self.netns.command([*VEO, "server", "--host", "127.0.0.1", "--port", str(self.port)]),
            self.log_path,
            env=self.env,
        )
        if logs is not None:
            logs.add(self.process)

    def wait_ready(self, logs: Logs | None = None) -> None:
        watched = logs or Logs()
        if self.process is not None and self.process not in watched.processes:
            watched.add(self.process)
        wait_for(f"{self.name} to answer /readyz", self._ready_or_dead, START_TIMEOUT, watched)

    def _ready_or_dead(self) -> bool:
        if self.process is not None and not self.process.running():
            raise RuntimeError(f"{self.name} exited:\n{self.process.tail()}")
        return self.ready()

    def ready(self) -> bool:
        """``GET /readyz`` answers 200 (the node reaches the database and the bus)."""
        try:
            return self.netns.http("GET", f"{self.url}/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def readiness(self) -> tuple[int, list[str]] | None:
        """``/readyz``'s status and the parts it names as failed; None if nothing answers."""
        try:
            response = self.netns.http("GET", f"{self.url}/readyz")
        except httpx.HTTPError:
            return None
        failed = response.json().get("failed", []) if response.status_code == 503 else []
        return response.status_code, failed

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def kill(self) -> None:
        """SIGKILL the node: no shutdown hook runs, its sockets are closed by the kernel."""
        assert self.process is not None, f"{self.name} is not running"
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.stop(grace_seconds=0)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def log(self) -> str:
        """Everything this node logged, every start of it."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class HAProxy:
    """HAProxy in the namespace with the deploy file, and its runtime API."""

    def __init__(self, netns: NetworkNamespace, workdir: Path, nodes: list[Node]) -> None:
        self.netns = netns
        self.nodes = nodes
        self.socket_path = workdir / "haproxy.sock"
        self.log_path = workdir / "haproxy.log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "VEO_PROXY_BIND": f"127.0.0.1:{SERVER_PORT}",
            "VEO_HAPROXY_SOCKET": str(self.socket_path),
            **{f"VEO_NODE{n.index}": f"127.0.0.1:{n.port}" for n in nodes},
        }
        self.process: LoggedProcess | None = None

    def start(self, logs: Logs | None = None) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        self.process = LoggedProcess(
            "haproxy",
            self.netns.command([haproxy, "-db", "-f", str(HAPROXY_CONFIG), "-f", str(RUNTIME_CONFIG)]),
            self.log_path,
            env=self.env,
        )
        watched = logs or Logs()
        watched.add(self.process)
        wait_for(
            "HAProxy to see every node up", lambda: self._alive() and self.up() == self._names(), 30, watched
        )

    def _alive(self) -> bool:
        if self.process is not None and not self.process.running():
            raise RuntimeError(f"haproxy exited:\n{self.process.tail()}")
        return self.socket_path.exists()

    def _names(self) -> set[str]:
        return {n.name for n in self.nodes}

    def command(self, line: str) -> str:
        """One runtime API command (``show servers state``, ``set server ...``); its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(5)
            conn.connect(str(self.socket_path))
            conn.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def states(self) -> dict[str, tuple[int, int]]:
        """Per server: (operational state 0 stopped / 2 running, admin state 0 ready / 8 drain...)."""
        result: dict[str, tuple[int, int]] = {}
        for line in self.command(f"show servers state {BACKEND}").splitlines():
            fields = line.split()
            # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
            if len(fields) > 6 and fields[1] == BACKEND:
                result[fields[3]] = (int(fields[5]), int(fields[6]))
        return result

    def up(self) -> set[str]:
        """The nodes HAProxy's health checks find up (the unchecked ``-fallback`` backups aside)."""
        names = self._names()
        return {name for name, (op, _admin) in self.states().items() if op == 2 and name in names}

    def log_lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def redispatched(self, request: str, since: int = 0) -> int:
        """How many requests containing ``request`` logged after line ``since`` HAProxy retried on
        another server (its HTTP log's retries field, ``.../+N``, has a ``+`` when redispatched)."""
        pattern = re.compile(r" \d+/\d+/\d+/\d+/\+\d+ ")
        return sum(1 for line in self.log_lines()[since:] if request in line and pattern.search(line))

    def pin(self, node: Node) -> None:
        """New connections go to ``node`` only: the others are drained (open ones stay)."""
        for other in self.nodes:
            state = "ready" if other is node else "drain"
            answer = self.command(f"set server {BACKEND}/{other.name} state {state}")
            assert answer.strip() == "", answer

    def unpin(self) -> None:
        for node in self.nodes:
            answer = self.command(f"set server {BACKEND}/{node.name} state ready")
            assert answer.strip() == "", answer

    def wait_up(self, names: set[str], logs: Logs | None = None, timeout: float = 30.0) -> None:
        wait_for(f"HAProxy to see exactly {sorted(names)} up", lambda: self.up() == names, timeout, logs)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class Cluster(VeoServer):
    """``nodes`` veo nodes behind HAProxy; to the e2e code, one server at the proxy's address."""

    def __init__(
        self,
        netns: NetworkNamespace,
        workdir: Path,
        database_url: str,
        redis_url: str,
        nodes: int = 3,
        settings: dict[str, str] | None = None,
    ) -> None:
        common = {
            "VEO_DATABASE_URL": database_url,
            "VEO_REDIS_URL": redis_url,
            "VEO_TRUSTED_PROXIES": "127.0.0.1",
            **(settings or {}),
        }
        super().__init__(netns, workdir, settings=common)
        (workdir / "data").rmdir()  # VeoServer's own data directory: each node has its own instead
        self.nodes = [Node(netns, i, workdir, self.env) for i in range(1, nodes + 1)]
        # the CLI (admin, audit verify) runs with node 1's data directory, as an operator on it
        self.env["VEO_DATA_DIR"] = str(self.nodes[0].data_dir)
        self.proxy = HAProxy(netns, workdir, self.nodes)
        self.logs = Logs()

    @property
    def node_processes(self) -> list[LoggedProcess]:
        return [n.process for n in self.nodes if n.process is not None]

    def start(self) -> None:
        """Migrate and create the technician once, start node 1 (it makes the keys), copy its keys
        to the others, start them side by side, then HAProxy once every node is ready."""
        self.admin("init")
        self.admin(
            "create-user", TECH_EMAIL, "--name", TECH_NAME, "--role", "technician", "--password-stdin",
            stdin=TECH_PASSWORD + "\n",
        )  # fmt: skip
        first, *others = self.nodes
        # node 1 makes the three key files as it starts (since d8e9852; before, the audit signing
        # key waited for the first checkpoint, on whichever node signed first): copy_keys fails if not
        first.start(self.logs)
        for node in others:
            copy_keys(first.data_dir, node.data_dir)
            node.launch(self.logs)
        for node in others:
            node.wait_ready(self.logs)
        self.proxy.start(self.logs)
        self.process = first.process  # what VeoServer's users look at (the e2e report's logs)

    def add_logs(self, logs: Logs) -> None:
        """Register every node's and the proxy's process in a test's ``logs``."""
        for node in self.nodes:
            if node.process is not None:
                logs.add(node.process)
        if self.proxy.process is not None:
            logs.add(self.proxy.process)

    def holding(self, path: str) -> list[Node]:
        """The nodes whose log shows a WebSocket opened on ``path`` (e.g. ``/ws/agent``)."""
        return [node for node in self.nodes if path in node.log()]

    def stop(self) -> None:
        self.proxy.stop()
        for node in self.nodes:
            node.stop()


def copy_keys(source: Path, target: Path) -> None:
    """The key files every node must share, from ``source``'s data directory to ``target``'s."""
    for relative in SHARED_KEY_FILES:
        origin = source / relative
        if origin.is_dir():
            shutil.copytree(origin, target / relative, dirs_exist_ok=True)
        elif origin.exists():
            (target / relative).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copy2(origin, target / relative)
        else:
            raise FileNotFoundError(f"{origin}: node 1 did not make it; the nodes would not share it")
