"""Managed devices (issue 17): N enrolled devices that each hold an authenticated ``/ws/device``.

A device's idle cost is not an agent's: it never joins a session; it proves its key once
(``device_challenge`` → ``device_hello`` signed with Ed25519 → ``device_welcome``), then beats
every ``heartbeat_seconds`` and waits, for days. A department enrols hundreds per node, so what
one costs a node while it waits is the figure that matters.

The devices are written straight into the bench's throwaway database through the models
(``veo.server.devices.models``): one group and N rows with fresh Ed25519 public keys, as
``world.py`` issues sessions through the service layer. The enrolment endpoint is one HTTPS
request per device that the bench would only time, not what waiting costs. The private keys stay
in the bench process. Every device connects from its own loopback address (as agents do, so the
server's per-address limits see one device each), signs exactly what ``veo agent service`` signs
(:func:`veo.protocol.device.auth_payload` over the nonce, its id and the server's origin), and
opens its socket with the service's options (``veo.agent.device.link``: its own ping every 30 s,
permessage-deflate offered); the server pings every socket every 5 s too.

Timed per device: from opening the TCP connection to ``device_welcome`` (connect, challenge,
the signature check, the node's database write), with ``CONNECT_CONCURRENCY`` devices in flight
at once, as when a whole fleet comes back after a server restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

from veo import __version__
from veo.agent.device.link import PING_SECONDS, PING_TIMEOUT_SECONDS
from veo.agent.signaling import CLOSE_TIMEOUT_SECONDS
from veo.bench.signaling import peers
from veo.bench.signaling.idle import abort_all, tally_nodes
from veo.bench.signaling.nodes import Node
from veo.protocol.base import MAX_MESSAGE_BYTES
from veo.protocol.device import DeviceChallenge, DeviceHeartbeat, DeviceHello, auth_payload, encode_public_key
from veo.server.db.engine import Database
from veo.server.devices.models import Device, DeviceGroup
from veo.tasks import spawn

#: Devices authenticating at once (each ends in a database write on its node).
CONNECT_CONCURRENCY = 16
#: Rows written per transaction when the fleet is enrolled.
BATCH = 500
GROUP_NAME = "Bench fleet"
OS_NAME = "Linux (veo bench)"


@dataclass(frozen=True)
class BenchDevice:
    device_id: str
    key: Ed25519PrivateKey


@dataclass
class Beating:
    """The heartbeats of the held devices: a task each, as every device beats on its own clock."""

    sent: int = 0
    #: the period the server asked for (its challenge's ``heartbeat_seconds``)
    period: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, ws: ClientConnection, period: int) -> None:
        self.period = period
        self.tasks.append(spawn(self._beat(ws, period), name="veo-bench-device-heartbeat"))

    async def _beat(self, ws: ClientConnection, period: int) -> None:
        beat = DeviceHeartbeat().dumps()
        with contextlib.suppress(Exception):  # a closed socket ends its device's beating
            while True:
                await asyncio.sleep(period)
                await ws.send(beat)
                self.sent += 1


@dataclass
class HeldDevices:
    sockets: list[ClientConnection]
    #: node name -> devices it holds
    per_node: dict[str, int]
    failures: dict[str, int]
    #: per device, opening the connection to ``device_welcome`` (milliseconds)
    connect_ms: list[float]
    #: wall time until every device was in or had failed
    connect_seconds: float = 0.0
    beats: Beating = field(default_factory=Beating)
    #: sockets on which the server accepted permessage-deflate (the devices offer it)
    compressed: int = 0

    def still_open(self) -> int:
        """Sockets the server has not closed (a dropped device would reconnect in real life)."""
        return sum(ws.protocol.state is State.OPEN for ws in self.sockets)


def enrol(url: str, count: int) -> list[BenchDevice]:
    """Write one device group and ``count`` devices (fresh Ed25519 keys) into ``url``; the
    devices with their private keys. Run after the migrations, before the nodes start."""
    fleet = [BenchDevice(secrets.token_hex(16), Ed25519PrivateKey.generate()) for _ in range(count)]
    db = Database(url)
    try:
        with db.session() as s:
            group = DeviceGroup(name=GROUP_NAME, description="veo bench signaling", policy="ask", roles=[])
            s.add(group)
            s.flush()
            group_id = group.id
        for start in range(0, count, BATCH):
            with db.session() as s:
                for number, device in enumerate(fleet[start : start + BATCH], start=start + 1):
                    raw = device.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
                    s.add(
                        Device(
                            id=device.device_id,
                            group_id=group_id,
                            name=f"bench-{number:05d}",
                            hostname=f"bench-{number:05d}",
                            os_name=OS_NAME,
                            agent_version=__version__,
                            public_key=encode_public_key(raw),
                        )
                    )
    finally:
        db.dispose()
    return fleet


def online(url: str, device_ids: list[str]) -> int:
    """How many of these devices the database says a node holds right now (``connected_node``)."""
    db = Database(url)
    try:
        with db.session() as s:
            total = 0
            for start in range(0, len(device_ids), BATCH):
                chunk = device_ids[start : start + BATCH]
                query = select(func.count()).where(Device.id.in_(chunk), Device.connected_node.is_not(None))
                total += s.scalar(query) or 0
            return total
    finally:
        db.dispose()


async def open_device(ws_base: str, index: int) -> ClientConnection:
    """A device socket as ``veo agent service`` opens it, from the device's own loopback address."""
    return await connect(
        ws_base + "/ws/device",
        local_addr=(peers.source_address(index), 0),
        max_size=MAX_MESSAGE_BYTES,
        open_timeout=peers.OPEN_SECONDS,
        ping_interval=PING_SECONDS,
        ping_timeout=PING_TIMEOUT_SECONDS,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
        compression="deflate",
        proxy=None,
    )


async def _next(ws: ClientConnection, wanted: str) -> dict[str, object]:
    """The next message, which must be ``wanted`` (a ``device_refused`` fails with its reason)."""
    try:
        raw = await asyncio.wait_for(ws.recv(), peers.STEP_SECONDS)
    except TimeoutError:
        raise peers.PeerError(f"no {wanted} within {peers.STEP_SECONDS:.0f} s") from None
    message: dict[str, object] = json.loads(raw)
    kind = message.get("type")
    if kind != wanted:
        detail = message.get("reason") or message.get("code") or ""
        raise peers.PeerError(f"{kind} {detail} instead of {wanted}".replace("  ", " "))
    return message


async def authenticate(ws: ClientConnection, device: BenchDevice, origin: str) -> int:
    """Answer the server's challenge as ``veo agent service`` does; the heartbeat period."""
    challenge = DeviceChallenge.model_validate(await _next(ws, "device_challenge"))
    signature = device.key.sign(auth_payload(bytes.fromhex(challenge.nonce), device.device_id, origin))
    hello = DeviceHello(
        device_id=device.device_id, signature=signature.hex(), agent_version=__version__, os_name=OS_NAME
    )
    await ws.send(hello.dumps())
    await _next(ws, "device_welcome")
    return challenge.heartbeat_seconds


async def _connect_one(
    node: Node, device: BenchDevice, origin: str, index: int, gate: asyncio.Semaphore, beats: Beating
) -> tuple[ClientConnection, float] | str:
    """The authenticated socket and its connect time (ms), or why not (counted, not raised)."""
    async with gate:
        began = time.perf_counter()
        try:
            ws = await open_device(node.ws, index)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:160]
        try:
            period = await authenticate(ws, device, origin)
        except Exception as exc:
            await ws.close()
            return f"{type(exc).__name__}: {exc}"[:160]
        elapsed_ms = (time.perf_counter() - began) * 1000
        beats.start(ws, period)
        return ws, elapsed_ms


@asynccontextmanager
async def holding_devices(
    nodes: list[Node],
    fleet: list[BenchDevice],
    *,
    origin: str,
    first_index: int,
    progress: Callable[[str], None],
) -> AsyncIterator[HeldDevices]:
    """Connect and authenticate every device of ``fleet`` (round-robin over the nodes, source
    addresses from ``first_index`` on); they stay connected, beating, until the block ends."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    held = HeldDevices(sockets=[], per_node={n.name: 0 for n in nodes}, failures={}, connect_ms=[])
    tasks = [
        spawn(
            _connect_one(nodes[i % len(nodes)], d, origin, first_index + i, gate, held.beats),
            name=f"veo-bench-device-{i}",
        )
        for i, d in enumerate(fleet)
    ]
    step = max(1, len(tasks) // 5)
    try:
        for done, task in enumerate(asyncio.as_completed(tasks), start=1):
            got = await task
            if isinstance(got, str):
                held.failures[got] = held.failures.get(got, 0) + 1
            else:
                held.sockets.append(got[0])
                held.connect_ms.append(got[1])
            if len(tasks) >= 100 and done % step == 0:
                progress(f"{done}/{len(tasks)} devices authenticated or failed")
        held.compressed = tally_nodes(held.sockets, nodes, held.per_node)
        held.connect_seconds = round(loop.time() - began, 1)
        yield held
    finally:
        for pending in [*tasks, *held.beats.tasks]:
            pending.cancel()
        await asyncio.gather(*tasks, *held.beats.tasks, return_exceptions=True)
        abort_all(held.sockets)
