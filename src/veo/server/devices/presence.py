"""The device sockets one node holds, and what the database says about them.

Cheap for hundreds of devices per node: each device costs its socket's own handler and an entry
here, nothing else (no task, no bus subscription, no timer of its own). The database hears of a
device at its hello (``connected_node`` = this node, ``last_seen_at``, ``os_user``, ``os_name``,
``agent_version``), when its socket closes (``connected_node`` cleared, only if this node still
holds it: a newer socket on another node has written its own name first), and otherwise once per
:data:`FLUSH_SECONDS` for all of this node's devices together: one ``UPDATE`` of ``last_seen_at``
for those that sent a heartbeat since the last flush, one for each whose signed-in user changed,
and one ``SELECT`` of those revoked meanwhile (a revocation whose bus notice was lost still
closes the socket within a flush). Heartbeats themselves write nothing.

``connected_node`` is the node's id (``SignalingHub.node``, the name its liveness heartbeat
``<prefix>node:<id>`` carries). A node that dies leaves its devices' ``connected_node`` behind;
``service.is_online`` counts a device online only while ``last_seen_at`` is fresh (90 s), which a
flush every 60 s keeps true for a device that is really there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from veo.protocol.device import DeviceHello
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.devices.models import Device
from veo.server.sessions.wire import Peer

log = logging.getLogger(__name__)

#: How often this node writes its devices' ``last_seen_at`` (at most once per device per period).
FLUSH_SECONDS = 60.0
#: Unanswered session requests one socket remembers.
MAX_EXPECTED = 16


@dataclass(eq=False)
class DeviceConnection:
    """One authenticated device socket on this node."""

    device_id: str
    peer: Peer
    address: str
    os_user: str = ""
    #: wall-clock nanoseconds of the authentication: of two sockets of one device (on two nodes),
    #: the later one stays
    since: int = field(default_factory=time.time_ns)
    #: a heartbeat arrived since the last flush
    seen: bool = False
    #: ``os_user`` changed since the last flush
    user_changed: bool = False
    #: sessions requested on this socket and not answered yet (oldest first, at most
    #: :data:`MAX_EXPECTED`): only those may be answered, so a device cannot make the server
    #: look sessions up, or end them, by answering for sessions it was never asked about
    expected: dict[str, None] = field(default_factory=dict)

    def expect(self, session_id: str) -> None:
        self.expected[session_id] = None
        while len(self.expected) > MAX_EXPECTED:
            del self.expected[next(iter(self.expected))]

    def answered(self, session_id: str) -> bool:
        """Whether ``session_id`` was requested here and not answered yet (it is, from now)."""
        return self.expected.pop(session_id, 0) is None


class Presence:
    """This node's device sockets, by device id (one per device: a newer one replaces it)."""

    def __init__(self, db: Database, node: str, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.node = node
        self.clock = clock
        self.held: dict[str, DeviceConnection] = {}

    def holder(self, device_id: str) -> DeviceConnection | None:
        return self.held.get(device_id)

    def take(self, conn: DeviceConnection) -> DeviceConnection | None:
        """``conn`` is now its device's socket on this node; the one it replaces, if any."""
        old = self.held.get(conn.device_id)
        self.held[conn.device_id] = conn
        return old if old is not conn else None

    def release(self, conn: DeviceConnection) -> bool:
        """``conn`` closed; True when it was still its device's socket here (not replaced)."""
        if self.held.get(conn.device_id) is conn:
            del self.held[conn.device_id]
            return True
        return False

    @staticmethod
    def heard(conn: DeviceConnection, os_user: str) -> None:
        """A heartbeat: noted in memory only, written at the next flush."""
        conn.seen = True
        if os_user != conn.os_user:
            conn.os_user, conn.user_changed = os_user, True

    async def connected(self, hello: DeviceHello) -> bool:
        """The hello's facts and this node's claim, in one write; False when the device was
        revoked since its key was checked (nothing written).

        Called after :meth:`take`: a revocation committed after this write finds the socket
        held here (its notice, or the next flush), one committed before makes this write miss.
        """
        now, node = self.clock(), self.node

        def write(s: Session) -> bool:
            result = s.execute(
                update(Device)
                .where(Device.id == hello.device_id, Device.revoked_at.is_(None))
                .values(
                    connected_node=node,
                    last_seen_at=now,
                    os_user=hello.os_user,
                    os_name=hello.os_name or Device.os_name,
                    agent_version=hello.agent_version or Device.agent_version,
                )
            )
            return bool(getattr(result, "rowcount", 0))

        return await self.db.run(write)

    async def gone(self, conn: DeviceConnection) -> None:
        """``conn`` closed: released here, and the database's claim cleared if it is still ours."""
        if not self.release(conn):
            return
        node, now = self.node, self.clock()

        def write(s: Session) -> None:
            s.execute(
                update(Device)
                .where(Device.id == conn.device_id, Device.connected_node == node)
                .values(connected_node=None, last_seen_at=now)
            )

        try:
            await self.db.run(write)
        except Exception as exc:  # the database is down: is_online's 90 s cover the stale claim
            log.warning("device %s left, but the database could not be told: %s", conn.device_id, exc)

    async def flush(self) -> list[DeviceConnection]:
        """Write what the heartbeats since the last flush said; the connections whose device was
        revoked meanwhile (the caller tells and closes them)."""
        if not self.held:
            return []
        held = list(self.held.values())
        seen = [c for c in held if c.seen]
        users = {c.device_id: c.os_user for c in held if c.user_changed}
        for conn in held:
            conn.seen = conn.user_changed = False
        now, node = self.clock(), self.node
        ids = [c.device_id for c in held]

        def write(s: Session) -> set[str]:
            if seen:
                s.execute(
                    update(Device)
                    .where(Device.id.in_([c.device_id for c in seen]), Device.connected_node == node)
                    .values(last_seen_at=now)
                )
            for device_id, os_user in users.items():
                s.execute(update(Device).where(Device.id == device_id).values(os_user=os_user))
            revoked = s.scalars(select(Device.id).where(Device.id.in_(ids), Device.revoked_at.is_not(None)))
            return set(revoked)

        try:
            revoked = await self.db.run(write)
        except Exception:
            for conn in seen:  # written at the next flush instead
                conn.seen = True
            for conn in held:
                conn.user_changed = conn.user_changed or conn.device_id in users
            raise
        return [c for c in held if c.device_id in revoked and self.held.get(c.device_id) is c]

    async def forget_all(self) -> None:
        """This node stops: every claim it holds in the database is cleared."""
        node = self.node
        self.held.clear()

        def write(s: Session) -> None:
            s.execute(update(Device).where(Device.connected_node == node).values(connected_node=None))

        await self.db.run(write)
