"""Real ``veo server`` processes on loopback, one data directory and one database for all.

One node uses what a single server uses by default (SQLite in its data directory, the in-process
bus); a pair shares a throwaway PostgreSQL database (``veo.bench.databases``) and Redis. The
nodes share the data directory too: the code secret and the audit signing key must be the same
on every node (``docs/deploy.md`` copies them), and the bench creates sessions with that secret.
Nodes start one after the other, so the first one makes the keys the second one reads.

Redis has no key prefix setting yet, so the pair uses a Redis database index of its own
(``--redis-url``); pub/sub channels are not per database. veo's session channels are named by
random session ids, so nothing the bench publishes there reaches another user of that Redis; the
managed devices' one channel (``veo:bus:devices``, ``server/devices/line.py``) is shared by every
veo on that Redis server: the bench's nodes publish a notice on it per device that authenticates
(naming the device's random id and the node, which other nodes ignore), and its history stream
expires two minutes after the last one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from veo.bench.databases import throwaway
from veo.bench.signaling.procfs import Usage, usage

HOST = "127.0.0.1"
#: How long a node may take to answer ``/healthz`` (migrations already ran in the bench).
START_SECONDS = 60.0
#: How long a node may take to stop on SIGTERM (it closes every socket it holds) before SIGKILL.
STOP_SECONDS = 20.0


class NodeError(RuntimeError):
    """A node did not start; the message ends with the last lines of its log."""


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def http(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://{HOST}:{self.port}"

    def usage(self) -> Usage:
        return usage(self.process.pid)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass(frozen=True)
class Cluster:
    nodes: list[Node]
    database_url: str
    data_dir: Path
    redis_url: str | None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _wait_healthy(node: Node) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise NodeError(f"{node.name} exited with {node.process.returncode}:\n{node.tail()}")
        try:
            if httpx.get(node.http + "/healthz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise NodeError(f"{node.name} did not answer /healthz within {START_SECONDS:.0f} s:\n{node.tail()}")


def _stop(node: Node) -> None:
    if node.process.poll() is None:
        node.process.send_signal(signal.SIGTERM)
        try:
            node.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()


def start_node(
    name: str, database_url: str, data_dir: Path, redis_url: str | None, public_url: str, port: int
) -> Node:
    """Start one ``veo server`` and wait until it answers; its log is a file in the data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEO_")}
    env["VEO_PUBLIC_URL"] = public_url
    env["VEO_SECURE_COOKIES"] = "false"
    if redis_url:
        env["VEO_REDIS_URL"] = redis_url
    log = data_dir / f"{name}.log"
    command = [
        sys.executable, "-m", "veo", "server",
        "--host", HOST, "--port", str(port),
        "--data-dir", str(data_dir), "--database-url", database_url,
        "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    node = Node(name, port, process, log)
    try:
        _wait_healthy(node)
    except BaseException:
        _stop(node)
        raise
    return node


@contextmanager
def cluster(count: int, data_dir: Path, database_url: str, redis_url: str | None) -> Iterator[Cluster]:
    """``count`` nodes on free loopback ports, stopped when the block ends."""
    ports = [free_port() for _ in range(count)]
    public_url = f"http://{HOST}:{ports[0]}"
    nodes: list[Node] = []
    try:
        for index, port in enumerate(ports, start=1):
            nodes.append(start_node(f"node{index}", database_url, data_dir, redis_url, public_url, port))
        yield Cluster(nodes, database_url, data_dir, redis_url)
    finally:
        for node in nodes:
            _stop(node)


@contextmanager
def database_for(postgres: bool, data_dir: Path, postgres_url: str) -> Iterator[str]:
    """SQLite in the data directory (a single server's default), or a throwaway PostgreSQL
    database on ``postgres_url``, dropped afterwards (required by more than one node)."""
    if not postgres:
        yield f"sqlite:///{data_dir / 'veo.db'}"
        return
    with throwaway(postgres_url) as url:
        yield url


def forget_sessions(redis_url: str, database_url: str) -> int:
    """Delete the per-session keys the nodes left in Redis for this bench's sessions (``veo:rt:``,
    ``veo:lock:``, ``veo:ended:`` and the bus history ``veo:bus:session:<id>:agent|console``),
    which would otherwise wait out their TTL (a day); how many were deleted. Only ids from the
    throwaway database are touched."""
    import redis
    from sqlalchemy import create_engine, select

    from veo.server.sessions.models import RemoteSession

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            ids = list(conn.scalars(select(RemoteSession.id)))
    finally:
        engine.dispose()
    client = redis.Redis.from_url(redis_url)
    deleted = 0
    try:
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            keys = [f"veo:{kind}:{i}" for kind in ("rt", "lock", "ended") for i in chunk]
            keys += [f"veo:bus:session:{i}:{peer}" for peer in ("agent", "console") for i in chunk]
            deleted += int(client.delete(*keys))
    finally:
        client.close()
    return deleted
