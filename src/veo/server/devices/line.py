"""The line to the enrolled devices: requests, revocations and replacements reach the right node.

One :class:`DeviceLine` per node (``app.state.device_line``, :func:`device_line`). A device's
socket lives on whichever node it reached (``presence.py``); the rest of veo asks the line, never
a socket:

- :meth:`DeviceLine.request_session` after ``connect.connect`` committed: the
  ``session_request`` goes to the node holding the device's socket (straight to the socket when
  it is this node, else on the bus channel ``devices``, which every node listens to with ONE
  subscription: no per-device subscription, so hundreds of devices cost nothing on the bus). The
  requesting node then waits :data:`LAUNCH_SECONDS` for the device's ``session_launch``: none (the
  device vanished, the bus lost the request, nobody holds the socket) ends the session by
  ``system`` with :data:`DEVICE_UNREACHABLE`; ``session_launch{ok: false, problem}`` ends it with
  :data:`DEVICE_UNAVAILABLE` and ``session.device_launch_failed {problem}`` in the audit log.
  The wait is a timer handle, not a task; a requesting node that dies takes it along, and the
  session's code then expires as any unused code does.
- :meth:`DeviceLine.revoked` after a revocation committed: ``device_revoked`` to the device and
  its socket closed, on whichever node (a lost notice is caught by the holder's next flush).
- a second authenticated socket of a device replaces the first, on whichever node: the later
  authentication (wall clock, ns) stays. When it came from another address group, the node that
  held the old socket audits ``device.replaced {device_id, from, to}`` (a copied key or disk
  image alternating with the real device shows up), once per device and window.

A device may only answer for its own sessions, once each: a ``session_launch`` naming a session
that was not requested on its socket (or on the socket of this node it replaced) is ignored
without a database read, one naming a session that is not the device's
(``RemoteSession.device_id``, checked under the row's lock) is ignored too. An answer sent
after the device moved to another node is lost that way: the wait then ends the session as
:data:`DEVICE_UNREACHABLE` unless the session part joined meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import FastAPI
from sqlalchemy import select

from veo.protocol.base import Message
from veo.protocol.device import CHALLENGE_SECONDS, DeviceRevoked, SessionLaunch, SessionRequest
from veo.server.addresses import address_group
from veo.server.audit.service import record
from veo.server.bus.base import RESYNC, Bus
from veo.server.db import unavailable
from veo.server.devices import presence as presence_module
from veo.server.devices import service as device_service
from veo.server.devices.auth_limit import create_auth_limiter
from veo.server.devices.models import Device
from veo.server.devices.presence import DeviceConnection, Presence
from veo.server.devices.refusals import FirstPerDevice
from veo.server.sessions import service, txn
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.refusal_log import RefusalLog
from veo.server.sessions.wire import CLOSE_NORMAL
from veo.tasks import spawn

if TYPE_CHECKING:
    from veo.server.sessions.hub import SignalingHub

log = logging.getLogger(__name__)

#: The bus channel every node listens to for its devices (JSON ``{"kind", "node", ...}``).
CHANNEL = "devices"
#: How long the requesting node waits for the device's ``session_launch``.
LAUNCH_SECONDS = 20.0
#: End reasons of a session on a managed device that never started there.
DEVICE_UNREACHABLE = "device_unreachable"
DEVICE_UNAVAILABLE = "device_unavailable"
#: End reason of a session whose device's enrolment was revoked while it ran.
DEVICE_REVOKED = "device_revoked"
#: Audit action of a refused device authentication (the first of each reason per address group
#: and window at once, ``{reason, device_id}``; the rest as one summary: ``refusal_log.py``).
AUTH_REFUSED = "device.auth_refused"
LAUNCH_FAILED = "session.device_launch_failed"
#: Audit action of a device's socket replaced by one from another address group (a copied key or
#: disk image in use elsewhere shows up this way): ``{device_id, device_name, from, to}``, at most
#: one row per device and window on each node (a flapping clone cannot flood the log).
REPLACED = "device.replaced"
#: Actor of what the device itself did (its id is in the details).
DEVICE_ACTOR = "device"
#: A device socket closed because a newer one of the same device authenticated.
CLOSE_REPLACED = 4409
#: How long one message to a device may take before its socket is given up (it stopped reading).
SEND_SECONDS = 5.0
#: A device socket closed because it did not take a message in time.
CLOSE_STALLED = 1008
#: The pause before listening on the bus again (doubled up to the max) after a failure.
RETRY_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0


class DeviceLine:
    """One node's side of every device (see the module's docstring)."""

    def __init__(
        self,
        hub: SignalingHub,
        *,
        launch_seconds: float = LAUNCH_SECONDS,
        flush_seconds: float = presence_module.FLUSH_SECONDS,
    ) -> None:
        self.hub = hub
        self.db = hub.db
        self.settings = hub.settings
        self.launch_seconds = launch_seconds
        #: how long a new socket has to answer its challenge
        self.challenge_seconds = CHALLENGE_SECONDS
        self.flush_seconds = flush_seconds
        self.presence = Presence(hub.db, hub.node)
        self.refusals = RefusalLog(action=AUTH_REFUSED, actor=DEVICE_ACTOR, subject_key="device_ids")
        #: refused authentications per address group, shared by the nodes (``auth_limit.py``)
        self.auth_limiter = create_auth_limiter(hub.settings)
        #: sessions ended by a shell revocation whose peers this node told (``announce_revoked_ends``)
        self._announced: set[str] = set()
        #: hellos closed unread because their address group was over its refusals (tests, log)
        self.throttled = 0
        self.known_refusals = FirstPerDevice()
        self.replacements = FirstPerDevice(reasons=frozenset({REPLACED}))
        #: session id -> the timer that ends it unless the device answers in time
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self._publishing = asyncio.Lock()
        #: the bus subscription is up (notices published from now on reach this node)
        self.listening = False

    @property
    def node(self) -> str:
        return self.presence.node

    @property
    def bus(self) -> Bus:
        """The hub's bus, read at each use (a test may move the hub onto another bus)."""
        return self.hub.bus

    # ------------------------------------------------------------------ lifecycle

    def _background(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = spawn(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start(self) -> None:
        """Listen on the bus and flush presence, for the node's lifetime (idempotent)."""
        if self._started:
            return
        self._started = True
        self._background(self._listen(), "veo-device-line")
        self._background(self._flush_loop(), "veo-device-presence")

    async def close(self) -> None:
        """Stop: timers and loops cancelled, refusal summaries written, this node's claims cleared."""
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.write_refusals(everything=True)
        try:
            await self.presence.forget_all()
        except Exception as exc:
            log.warning("this node's device claims could not be cleared: %s", exc)
        try:
            await self.auth_limiter.close()
        except Exception as exc:
            log.warning("the device authentication limiter could not be closed: %s", exc)

    # ------------------------------------------------------------------ what the rest of veo asks

    async def request_session(self, device_id: str, request: SessionRequest) -> None:
        """Send ``request`` to the device, wherever its socket is, and wait for its answer (see
        the module's docstring). Never raises: a request the bus cannot carry ends the session
        at once (:data:`DEVICE_UNREACHABLE`)."""
        self._arm(request.session_id)
        conn = self.presence.holder(device_id)
        if conn is not None:
            await self._deliver(conn, request)
            return
        notice = {"kind": "request", "node": self.node, "device": device_id, "request": request.dumps()}

        async def undelivered() -> None:
            self._settle(request.session_id)
            await self.unanswered(request.session_id)

        self._tell(
            notice, f"session {request.session_id}: the request could not reach its device", undelivered
        )

    async def revoked(self, device_id: str) -> None:
        """The device's enrolment was revoked (committed): tell it and close its socket, wherever
        it is. Never raises (a lost notice: the holder's next flush finds the revocation)."""
        conn = self.presence.holder(device_id)
        if conn is not None:
            await self._close_revoked(conn)
        self._tell({"kind": "revoke", "node": self.node, "device": device_id}, f"device {device_id} revoked")
        await self.end_sessions(device_id)

    async def end_sessions(self, device_id: str) -> None:
        """End the device's live sessions (:data:`DEVICE_REVOKED`) and tell their peers.

        A revoked device is no longer the organization's to reach: a session already running on
        it must not outlive the enrolment that allowed it. Never raises (logged).
        """
        try:
            live = await txn.run(self.db, lambda s: device_service.live_session_ids(s, device_id))
            for session_id in live:
                await self.hub.end(
                    session_id,
                    by="system",
                    reason=DEVICE_REVOKED,
                    actor=service.SYSTEM_ACTOR,
                    details={"device_id": device_id},
                )
        except Exception as exc:
            log.warning("device %s revoked, but its live sessions could not be ended now: %s", device_id, exc)

    # ------------------------------------------------------------------ the device sockets' side

    async def refused(self, address: str, reason: str, device_id: str) -> None:
        """Audit a refused authentication: at once or counted into its window's summary
        (``refusals.py``: which ones get their own row)."""
        if self.known_refusals.first(address, reason, device_id) or self.refusals.note(
            address, reason, device_id
        ):
            details = {"reason": reason, "device_id": device_id}
            await txn.run(
                self.db,
                lambda s: record(s, AUTH_REFUSED, actor=DEVICE_ACTOR, address=address, details=details),
            )
        await self.write_refusals()

    async def write_refusals(self, *, everything: bool = False) -> None:
        try:
            tallies = self.refusals.due(everything=everything)
            if tallies:
                await txn.run(self.db, lambda s: self.refusals.write(s, tallies))
        except Exception:
            log.exception("writing the summary of refused device authentications failed")

    async def connected(self, conn: DeviceConnection) -> None:
        """``conn`` authenticated: it is the device's socket now; an older one closes, here or on
        whichever node holds it."""
        old = self.presence.take(conn)
        if old is not None:
            conn.expected.update(old.expected)  # what it was asked, the new socket may answer
            await old.peer.close(CLOSE_REPLACED)
            await self.replaced(conn.device_id, old.address, conn.address)
        notice = {
            "kind": "replaced",
            "node": self.node,
            "device": conn.device_id,
            "since": conn.since,
            "address": conn.address,
        }
        self._tell(notice, f"device {conn.device_id} connected again")

    async def replaced(self, device_id: str, old_address: str, new_address: str) -> None:
        """Audit ``device.replaced`` when the socket moved to another address group (a device
        that reconnects from where it was is no news); once per device and window. Never raises."""
        if address_group(old_address) == address_group(new_address):
            return
        if not self.replacements.first("", REPLACED, device_id):
            return
        details: dict[str, object] = {"device_id": device_id, "from": old_address, "to": new_address}

        def write(s: Any) -> None:
            device = s.get(Device, device_id)
            details["device_name"] = device.name if device is not None else ""
            record(s, REPLACED, actor=DEVICE_ACTOR, address=new_address, details=details)

        try:
            await txn.run(self.db, write)
        except Exception as exc:
            unavailable.log_failure(log, f"auditing device {device_id}'s replaced socket", exc)

    async def launched(self, conn: DeviceConnection, launch: SessionLaunch) -> None:
        """The device's answer to a ``session_request``: the wait ends; a failure ends the session."""
        session_id, device_id = launch.session_id, conn.device_id
        if not conn.answered(session_id):
            log.debug("device %s answered for a session it was not asked about here", device_id)
            return
        problem = launch.problem or "launch_failed"

        def settle(s: Any) -> str:
            session = service.locked(s, session_id)
            if session is None or session.device_id != device_id:
                return "not_its_own"
            if launch.ok or session.status != "waiting":
                return "answered"
            service.audit(
                s,
                session,
                LAUNCH_FAILED,
                actor=DEVICE_ACTOR,
                details={"problem": problem, "device_id": device_id},
            )
            service.end_session(
                s,
                session_id,
                by="system",
                reason=DEVICE_UNAVAILABLE,
                actor=DEVICE_ACTOR,
                details={"device_id": device_id},
            )
            return "ended"

        outcome = await txn.run(self.db, settle)
        if outcome == "not_its_own":
            log.warning("device %s answered for session %s, which is not its own", device_id, session_id[:36])
            return
        self._settle(session_id)
        # lost: the requesting node's timer finds the session no longer waiting (or ends it)
        self._tell(
            {"kind": "launched", "node": self.node, "session": session_id}, f"session {session_id} answered"
        )
        if outcome == "ended":
            await self.hub.announce_end(session_id, "system", DEVICE_UNAVAILABLE)

    async def unenrol(self, conn: DeviceConnection) -> None:
        """The device leaves (``device_unenrol``): revoked now, told, closed."""
        await txn.run(
            self.db,
            lambda s: device_service.revoke_device(
                s, conn.device_id, by="device", actor=DEVICE_ACTOR, address=conn.address
            ),
        )
        await self.end_sessions(conn.device_id)  # first: closing the socket ends this task
        await self._close_revoked(conn)

    # ------------------------------------------------------------------ internals

    def _tell(
        self, notice: dict[str, Any], what: str, failed: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Publish ``notice`` to the other nodes in the background: with Redis down a publish may
        wait for its bound (20 s), and neither a device's welcome nor an administrator's revoke
        should wait with it. ``failed`` runs when the bus gave up."""

        async def publish() -> None:
            try:
                async with self._publishing:  # FIFO: this node's notices arrive in their order
                    await self.bus.publish(CHANNEL, json.dumps(notice))
            except Exception as exc:
                log.warning("%s; other nodes not told: %s", what, exc)
                if failed is not None:
                    await failed()

        self._background(publish(), "veo-device-notice")

    async def _deliver(self, conn: DeviceConnection, request: SessionRequest) -> None:
        conn.expect(request.session_id)
        if not await _send(conn, request):  # the socket is going: the launch timer ends the session
            log.info("session %s: the request could not be sent to its device", request.session_id)

    @staticmethod
    async def _close_revoked(conn: DeviceConnection) -> None:
        if not await _send(conn, DeviceRevoked()):
            log.debug("device %s left before it was told of its revocation", conn.device_id)
        await conn.peer.close(CLOSE_NORMAL)

    def _arm(self, session_id: str) -> None:
        loop = asyncio.get_running_loop()
        old = self._pending.pop(session_id, None)
        if old is not None:
            old.cancel()
        self._pending[session_id] = loop.call_later(self.launch_seconds, self._overdue, session_id)

    def _settle(self, session_id: str) -> None:
        handle = self._pending.pop(session_id, None)
        if handle is not None:
            handle.cancel()

    def _overdue(self, session_id: str) -> None:
        if self._pending.pop(session_id, None) is not None:
            self._background(self.unanswered(session_id), "veo-device-unanswered")

    def pending(self) -> set[str]:
        """Sessions whose device has not answered yet (tests)."""
        return set(self._pending)

    async def unanswered(self, session_id: str) -> bool:
        """End a session whose device did not answer in time, if it is still waiting for it
        (the session part joined meanwhile: an answer the bus lost; nothing to do)."""

        def end(s: Any) -> bool:
            session = service.locked(s, session_id)
            if session is None or session.status != "waiting":
                return False
            return service.end_session(
                s,
                session_id,
                by="system",
                reason=DEVICE_UNREACHABLE,
                actor=service.SYSTEM_ACTOR,
                details={"device_id": session.device_id},
            )

        try:
            ended = await txn.run(self.db, end)
            if ended:
                await self.hub.announce_end(session_id, "system", DEVICE_UNREACHABLE)
            return ended
        except Exception as exc:
            unavailable.log_failure(log, f"session {session_id}: ending it for its silent device", exc)
            return False

    async def _listen(self) -> None:
        pause = RETRY_SECONDS
        while True:
            try:
                async with self.bus.subscribe(CHANNEL) as inbox:
                    pause, self.listening = RETRY_SECONDS, True
                    async for raw in inbox:
                        await self._message(raw)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listening for device notices failed; again in %.0f s: %s", pause, exc)
            self.listening = False
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MAX_SECONDS)

    async def _message(self, raw: str) -> None:
        """One notice from the bus (this node's own included: acting on them twice is harmless)."""
        if raw == RESYNC:
            return
        try:
            data = json.loads(raw)
            kind = data["kind"]
            if kind == "launched":
                self._settle(str(data["session"]))
                return
            conn = self.presence.holder(str(data["device"]))
            if conn is None:
                return
            if kind == "request":
                request = SessionRequest.model_validate_json(data["request"])
                if await self._still_waiting(request.session_id, conn.device_id):
                    await self._deliver(conn, request)
            elif kind == "revoke":
                await self._close_revoked(conn)
            elif kind == "replaced" and conn.since < int(data["since"]):
                self.presence.release(conn)
                await conn.peer.close(CLOSE_REPLACED)
                if isinstance(data.get("address"), str):  # the replaced socket's node knows where it was
                    await self.replaced(conn.device_id, conn.address, data["address"])
        except Exception:
            log.warning("ignored a device notice the bus carried: %r", raw[:200], exc_info=True)

    async def _still_waiting(self, session_id: str, device_id: str) -> bool:
        """Whether a request that came over the bus is still worth delivering: after a Redis
        reconnect the bus replays up to two minutes of notices, and a device must not start a
        session part for a session that ended meanwhile (or that is not its own)."""

        def check(s: Any) -> bool:
            session = service.get_session(s, session_id)
            return session is not None and session.status == "waiting" and session.device_id == device_id

        return await self.db.run(check)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            await self.flush_now()

    async def flush_now(self) -> None:
        """One presence flush (``presence.Presence.flush``); revoked devices told and closed, and
        their sessions ended (a revocation by ``veo admin device revoke`` arrives this way)."""
        try:
            for conn in await self.presence.flush():
                await self._close_revoked(conn)
                await self.end_sessions(conn.device_id)
        except Exception as exc:
            unavailable.log_failure(log, "writing the devices' presence", exc)
        try:
            await self.announce_revoked_ends()
        except Exception as exc:
            unavailable.log_failure(log, "checking the sessions of revoked devices", exc)
        await self.write_refusals()

    async def announce_revoked_ends(self) -> list[str]:
        """Tell the peers of sessions this node holds the agent socket of, that the database says
        were ended by a revocation no node announced (``veo admin device revoke`` ends them from
        the shell, with no bus or socket to reach): each once. One query per flush."""
        sockets = getattr(self.hub, "agent_sockets", None)
        held = set(sockets.held) if sockets is not None else set()
        self._announced &= held  # sessions whose agent socket went need no memory
        unknown = held - self._announced
        if not unknown:
            return []

        def ended(s: Any) -> list[str]:
            stmt = select(RemoteSession.id).where(
                RemoteSession.id.in_(unknown),
                RemoteSession.device_id.is_not(None),
                RemoteSession.status == "ended",
                RemoteSession.end_reason == DEVICE_REVOKED,
            )
            return list(s.scalars(stmt))

        told = await self.db.run(ended)
        for session_id in told:
            self._announced.add(session_id)
            await self.hub.announce_end(session_id, "system", DEVICE_REVOKED)
        return told


async def _send(conn: DeviceConnection, message: Message) -> bool:
    """Send one message to a device within :data:`SEND_SECONDS`; False if it could not be.

    The bus listener sends for every device of the node, one notice after the other: a device
    that stops reading (its buffers full) must not hold the others' notices, so it is closed."""
    with anyio.move_on_after(SEND_SECONDS):
        try:
            await conn.peer.send(message)
            return True
        except Exception:
            return False
    with anyio.move_on_after(SEND_SECONDS):  # the closing handshake is bounded too
        await conn.peer.close(CLOSE_STALLED)
    return False


def device_line(app: FastAPI) -> DeviceLine:
    """This node's device line (made by ``devices.routes.install``)."""
    line: DeviceLine = app.state.device_line
    return line
