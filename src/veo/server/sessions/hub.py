"""The signaling hub: a router between one agent and its technician's console(s).

Per connection it parses every message with ``veo.protocol``, checks it is allowed at this step
(``runtime.py``), records the step through ``service.py`` and relays what the other peer must see
over the bus (``session:<id>:agent`` / ``session:<id>:console``). A bad message gets an ``error``
reply and the connection stays open, except a bad ``join``, which is answered and closed. Nothing
raises out of a connection handler.

Any node serves either peer of any session: each message is handled under the session's lock
in the runtime store (``runtime_store.py``, Redis with ``VEO_REDIS_URL``), against the state all
nodes share (``runtime.py``), and relayed over the bus. What stays on this node: the agent sockets
it holds (``agent_sockets.py``), the grace timers it started, its consoles. A rejoin
on any node takes the session over and closes an older agent socket wherever it is (a notice on
the agent channel that never reaches a peer). The bus's ``RESYNC`` (it reconnected) makes a
console's socket get ``session_state`` and the pending offer again, and an agent's socket claim its
session back in the store (rebuilt from the database when the store lost it).

The console may reload at will: on (re)connect it gets ``session_state`` and any offer still
waiting for an answer. An agent that disappears without ``hangup`` before the user allowed the
session ends it (by ``system``, ``agent_disconnected``) after a short grace period; once allowed,
the session is interrupted and waits for the agent's ``rejoin`` for the session's grace period
(``resuming.py``). No session is ended because a node started: each node writes a heartbeat and
sweeps the connected sessions (``liveness.py``), interrupting those whose agent's node died or
that no node holds.

A console acts for its account only while that account may: every console message is first
checked (``revocation.standing``) and refused, its session ended and its socket closed when the
account was cut off or its role no longer allows the session. An account change committed on
this node (``auth/revoked.py``) marks the account's open consoles at once, ends its sessions and
closes those sockets without waiting for their next message; the change also goes out on the bus
(``accounts``) so the other nodes do the same with the consoles they carry (``cutoffs.py``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy.orm import Session
from starlette.websockets import WebSocket

from veo.config import Settings
from veo.protocol.base import Message, ProtocolError
from veo.protocol.device import DeviceSession
from veo.protocol.permissions import Permission
from veo.protocol.signaling import (
    AgentJoined,
    AgentMessage,
    ConsoleMessage,
    Ended,
    Hangup,
    Offer,
    Ping,
    Pong,
    SessionState,
    Upgraded,
    parse_agent_message,
    parse_console_message,
)
from veo.server.auth import revoked
from veo.server.auth.models import User
from veo.server.bus.base import RESYNC, Bus
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.lang import set_language
from veo.server.sessions import asking, liveness, resuming, service, steps, txn
from veo.server.sessions.agent_sockets import CLOSE_REPLACED, AgentSockets, ended_from_row
from veo.server.sessions.consoles import ConsoleConnection, ConsoleRegistry
from veo.server.sessions.cutoffs import Cutoffs
from veo.server.sessions.device_view import device_session
from veo.server.sessions.ice import console_offer
from veo.server.sessions.interruptions import CONNECTED_STATUSES
from veo.server.sessions.join import Admission, Rejoining, admit, flush_refusals
from veo.server.sessions.liveness import DeadNodes, Liveness, MemoryLiveness
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.ratelimit import RedemptionLimiter
from veo.server.sessions.refusal_log import RefusalLog
from veo.server.sessions.runtime import SessionRuntime, agent_may_send, console_may_send
from veo.server.sessions.runtime_store import (
    Held,
    MemoryRuntimeStore,
    RuntimeStore,
    RuntimeStoreError,
    StateNotSaved,
)
from veo.server.sessions.steps import Step
from veo.server.sessions.wire import (
    CLOSE_NORMAL,
    CLOSE_POLICY,
    Peer,
    agent_channel,
    console_channel,
    error,
    is_ended,
    is_internal,
    protocol_error,
    replaced,
    replaced_generation,
)
from veo.server.web.templating import language_from_request
from veo.tasks import spawn

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
#: Tells a newly taken agent socket (and the consoles) what it needs: ``joined`` or ``rejoined``.
Greet = Callable[[], Awaitable[None]]
#: What a bus message meant for this node (not for the peer) makes the socket's handler do:
#: return True to stop serving the socket.
Internal = Callable[[str], Awaitable[bool]]


class SignalingHub:
    agent_channel = staticmethod(agent_channel)
    console_channel = staticmethod(console_channel)

    def __init__(
        self,
        *,
        db: Database,
        bus: Bus,
        settings: Settings,
        limiter: RedemptionLimiter | None = None,
        sleep: Sleep = asyncio.sleep,
        agent_grace_seconds: float = 15.0,
        join_timeout_seconds: float = 30.0,
        expiry_interval_seconds: float = 30.0,
        store: RuntimeStore | None = None,
        liveness: Liveness | None = None,
        sweep_interval_seconds: float = liveness.SWEEP_SECONDS,
        unheld_grace_seconds: float = 30.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.limiter = limiter or RedemptionLimiter()
        #: refused joins, counted per address group and written as one summary per window
        self.refusals = RefusalLog()
        self.sleep = sleep
        self.agent_grace_seconds = agent_grace_seconds
        self.join_timeout_seconds = join_timeout_seconds
        self.expiry_interval_seconds = expiry_interval_seconds
        #: every session's protocol state, shared by the nodes (``runtime_store.py``)
        self.store: RuntimeStore = store or MemoryRuntimeStore()
        #: the nodes' heartbeats (``liveness.py``)
        self.liveness: Liveness = liveness or MemoryLiveness()
        self.sweep_interval_seconds = sweep_interval_seconds
        #: how long a connected session may stay with no node holding its agent before the
        #: sweep interrupts it (longer than the pre-consent wait, which ends it normally)
        self.unheld_grace_seconds = unheld_grace_seconds
        self.dead_nodes = DeadNodes()
        #: wall-clock seconds, shared by the nodes through the store (tests set their own clock)
        self.clock: Callable[[], float] = time.time
        self._tasks: set[asyncio.Task[Any]] = set()
        self._expiry_started = False
        #: this node's open consoles, by account (``consoles.py``)
        self.consoles = ConsoleRegistry()
        self.node = secrets.token_hex(8)
        self.started = time.time()
        #: the agent sockets this node holds, claimed back in the store (``agent_sockets.py``)
        self.agent_sockets = AgentSockets(self)
        #: the grace timers this node started: session id -> task (``resuming.py``)
        self._timers: dict[str, asyncio.Task[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        #: accounts cut off: this node's consoles marked, ended and closed (``cutoffs.py``)
        self.cutoffs = Cutoffs(self)
        revoked.listen(db.sessionmaker, self.cutoffs.committed)

    # ------------------------------------------------------------------ lifecycle

    def _background(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = spawn(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _ensure_expiry_loop(self) -> None:
        """Started on first use: the hub is created outside any event loop (in ``install``)."""
        if not self._expiry_started:
            self._expiry_started = True
            self._loop = asyncio.get_running_loop()
            self._background(self._expiry_loop(), "veo-session-expiry")
            self._background(self.cutoffs.listen(), "veo-account-changes")
            self._background(self._heartbeat_loop(), "veo-node-heartbeat")
            self._background(self._claim_loop(), "veo-agent-claim-back")
            self._background(self._sweep_loop(), "veo-liveness-sweep")

    async def _heartbeat_loop(self) -> None:
        """This node's heartbeat alone: a claim-back that takes long (many sessions rebuilt after
        a Redis restart) must not delay it, or the other nodes' sweeps would take this node for
        dead and interrupt the sessions it is claiming (:meth:`_claim_loop`)."""
        while True:
            try:
                await self.liveness.beat(self.node, self.started)
            except Exception as exc:  # Redis down: said once a round, without a trace
                log.warning("writing this node's heartbeat failed: %s", exc)
            await asyncio.sleep(liveness.HEARTBEAT_SECONDS)

    async def _claim_loop(self) -> None:
        """:meth:`claim_held` once per heartbeat period, in a task of its own."""
        while True:
            try:
                await self.claim_held()
            except Exception as exc:
                log.warning("claiming this node's agent sockets back failed: %s", exc)
            await asyncio.sleep(liveness.HEARTBEAT_SECONDS)

    async def claim_held(self) -> None:
        """The claim-back of the agent sockets (``AgentSockets.claim_held``), on the hub so that the
        claim loop goes through one name a test can replace with a slow one."""
        await self.agent_sockets.claim_held()

    @property
    def _agents(self) -> dict[str, tuple[int, Peer]]:
        """The agent sockets this node holds: session id -> (generation, peer)."""
        return self.agent_sockets.held

    @_agents.setter
    def _agents(self, held: dict[str, tuple[int, Peer]]) -> None:
        """Tests that make a node forget its sockets (as a restarted process would) set it."""
        self.agent_sockets.held = held

    def agent_socket(self, session_id: str) -> int | None:
        """The generation of the agent socket this node holds for the session, if any."""
        return self.agent_sockets.generation(session_id)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_seconds)
            await self.sweep_now()

    async def sweep_now(self) -> None:
        """One liveness sweep (``liveness.sweep``); failures are logged, the next one tries again."""
        try:
            await liveness.sweep(self)
        except Exception as exc:
            log.warning("the liveness sweep failed: %s", exc)

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.expiry_interval_seconds)
            try:
                await self.expire_now()
                await self.write_refusals()
            except Exception as exc:  # never the loop's end: the next round goes on
                log.warning("a round of code expiry failed: %s", exc)

    async def expire_now(self) -> list[str]:
        """Expire waiting sessions whose code ran out and tell their consoles.

        Each expired session is told on its own: with Redis away, a session whose state could
        not be dropped or whose consoles could not be told now is logged, and the others are
        still told (a console that missed it gets the state at its bus resync)."""
        try:
            expired = await txn.run(self.db, service.expire_waiting)
        except Exception:
            log.exception("expiring waiting sessions failed")
            return []
        for session_id in expired:
            try:
                await self.store.drop(session_id)
            except Exception as exc:
                log.warning(
                    "session %s expired but its runtime state could not be dropped: %s", session_id, exc
                )
            try:
                await self.publish_state(session_id)
            except Exception as exc:
                log.warning("session %s expired but its consoles could not be told now: %s", session_id, exc)
        return expired

    async def start(self) -> None:
        """At server start: this node's heartbeat, then one liveness sweep at once. Nothing is
        ended because a node started, and the sessions other live nodes hold are left alone;
        with a private store (one node) what a previous process left live is interrupted (its
        peers may come back within the session's grace period)."""
        self._ensure_expiry_loop()
        try:
            await self.liveness.beat(self.node, self.started)
        except Exception as exc:
            log.warning("writing this node's heartbeat failed: %s", exc)
        await self.sweep_now()

    async def close(self) -> None:
        """Cancel the loops and this node's grace timers (connections end with the server; the
        other nodes' sweeps cover what the timers would have ended), drop the heartbeat."""
        await self.write_refusals(everything=True)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._timers.clear()
        try:
            await self.liveness.forget(self.node)
        except Exception:
            log.debug("removing this node's heartbeat failed", exc_info=True)
        await self.liveness.close()
        await self.store.close()

    async def write_refusals(self, *, everything: bool = False) -> None:
        """Audit the refused joins counted in windows that closed (``refusal_log.py``).

        Refused sign-ins are ``auth/housekeeping.py``'s.
        """
        try:
            await flush_refusals(self, everything=everything)
        except Exception:
            log.exception("writing the summary of refused joins failed")

    # ------------------------------------------------------------------ shared steps

    @asynccontextmanager
    async def runtime(self, session_id: str, session: RemoteSession | None = None) -> AsyncIterator[Held]:
        """The session's state under its lock, saved when the block ends; rebuilt from the database
        (``resuming.restore``) when the store has none and the session is live. ``held.rt`` is
        None for a session that ended (or does not exist). Only entry points call this: steps get
        the runtime they run on (the lock is not re-entrant)."""
        async with self.store.edit(session_id) as held:
            if held.rt is None and not held.ended:
                if session is None:
                    session = await txn.run(self.db, lambda db: service.get_session(db, session_id))
                if session is not None and session.status in service.LIVE_STATUSES:
                    held.rt, held.rebuilt = await resuming.restore(self, session), True
            yield held

    def start_timer(self, session_id: str, deadline: datetime) -> None:
        """A grace timer on this node for an interruption: at ``deadline`` the session ends unless
        it resumed (the liveness sweep of any node does the same if this node is gone)."""
        timer = self._timers.get(session_id)
        if timer is not None and not timer.done():
            return
        self._timers[session_id] = self._background(
            self._expire(session_id, deadline), f"veo-resume-grace-{session_id}"
        )

    def stop_timer(self, session_id: str) -> None:
        timer = self._timers.pop(session_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    async def _expire(self, session_id: str, deadline: datetime) -> None:
        await asyncio.sleep(max(0.0, (deadline - utcnow()).total_seconds()))
        if self._timers.get(session_id) is asyncio.current_task():
            del self._timers[session_id]
        await resuming.end_if_lost(self, session_id)

    async def _saved(self, session_id: str) -> SessionRuntime | None:
        """The session's saved state for reading; None when the store cannot say (Redis down):
        what the consoles are told then comes from the database alone."""
        try:
            return await self.store.get(session_id)
        except RuntimeStoreError:
            log.warning("session %s: the runtime store is unreachable; state from the database", session_id)
            return None

    async def _state(self, session_id: str, rt: SessionRuntime | None = None) -> SessionState | None:
        def read(db: Session) -> tuple[RemoteSession, DeviceSession | None] | None:
            found = service.get_session(db, session_id)
            return None if found is None else (found, device_session(db, found))

        loaded = await txn.run(self.db, read)
        if loaded is None:
            return None
        session, device = loaded
        if rt is None:
            rt = await self._saved(session_id)
        # the database's deadline: every node sees the same interruption, even without the state
        deadline = session.resume_deadline if session.status in CONNECTED_STATUSES else None
        return SessionState(
            session_id=session.id,
            status=session.status,  # type: ignore[arg-type]
            agent_connected=rt.agent_connected if rt else False,
            requested=[Permission(p) for p in session.requested_permissions],
            granted=[Permission(p) for p in session.granted_permissions],
            control_paused=session.control_paused,
            technician_sas_confirmed=session.technician_sas_confirmed,
            identity_required=session.identity_required,
            identity=session.identity_confirmation if session.identity_confirmed_at else None,  # type: ignore[arg-type]
            mode=session.mode,  # type: ignore[arg-type]
            device=device,
            permission_pending=asking.pending_for_state(rt.permission_ask if rt else None, self.clock()),
            interrupted=deadline is not None,
            resume_deadline=deadline.isoformat() if deadline is not None else None,
        )

    async def publish_state(self, session_id: str, rt: SessionRuntime | None = None) -> None:
        """``session_state`` to the consoles; ``rt``: the state a step is changing (not saved yet),
        else the store's."""
        state = await self._state(session_id, rt)
        if state is not None:
            await self.bus.publish(console_channel(session_id), state.dumps())

    async def announce_end(self, session_id: str, by: service.EndedBy, reason: str) -> None:
        """The session ended (the database says so already): its state dropped (a save under way is
        refused), both peers told."""
        self.stop_timer(session_id)
        try:
            await self.store.drop(session_id)
        except RuntimeStoreError:
            log.warning("session %s ended but its runtime state could not be dropped", session_id)
        ended = Ended(by=by, reason=reason[:200]).dumps()
        # each told on its own: a peer the bus cannot reach now is told at its socket's next
        # resync or this node's next heartbeat round (``AgentSockets.tell_ended``), from the database
        tells: list[Callable[[], Awaitable[None]]] = [
            lambda: self.bus.publish(agent_channel(session_id), ended),
            lambda: self.publish_state(session_id),
            lambda: self.bus.publish(console_channel(session_id), ended),
        ]
        for tell in tells:
            try:
                await tell()
            except Exception as exc:
                log.warning("session %s ended but a peer could not be told now: %s", session_id, exc)

    async def end(
        self,
        session_id: str,
        *,
        by: service.EndedBy,
        reason: str,
        actor: str,
        address: str = "",
        details: dict[str, object] | None = None,
    ) -> bool:
        """End a live session and tell both peers; False if it had already ended."""
        changed = await txn.run(
            self.db,
            lambda db: service.end_session(
                db, session_id, by=by, reason=reason, actor=actor, address=address, details=details
            ),
        )
        if changed:
            await self.announce_end(session_id, by, reason)
        return changed

    async def _pump(
        self,
        peer: Peer,
        inbox: AsyncIterator[str],
        handle: Callable[[str | bytes], Awaitable[None]],
        internal: Internal,
    ) -> bool:
        """Read the peer and forward the bus until either stops; True if the session ended (or,
        for this socket, as good as: ``internal`` said it is done).

        A bus message for the nodes (``RESYNC``, a replaced socket's notice) goes to ``internal``,
        never to the peer.
        """
        ended = False

        async def read(scope: anyio.CancelScope) -> None:
            try:
                while (raw := await peer.receive()) is not None:
                    await handle(raw)
            except Exception:
                log.debug("peer connection lost", exc_info=True)
            scope.cancel()

        async def forward(scope: anyio.CancelScope) -> None:
            nonlocal ended
            try:
                async for message in inbox:
                    if is_internal(message):
                        if await internal(message):  # the socket is done (replaced, or ended)
                            ended = True
                            break
                        continue
                    await peer.send(message)
                    if is_ended(message):
                        ended = True
                        break
            except Exception:
                log.debug("forwarding to peer failed", exc_info=True)
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(read, tg.cancel_scope)
            tg.start_soon(forward, tg.cancel_scope)
        return ended

    async def _locked_step(
        self,
        session_id: str,
        message: Message,
        step: Callable[[SessionRuntime | None], Awaitable[None]],
    ) -> None:
        """Run a peer's message's ``step`` on the session's state under its lock. With the store
        unreachable (Redis down) the message is refused (``RuntimeStoreError``), except a hang-up:
        an end needs no shared state (the database decides), so it is never lost with Redis; it
        runs on an empty state. A step whose save was refused (its lock lost) is not run twice."""
        try:
            async with self.runtime(session_id) as held:
                await step(held.rt)
        except RuntimeStoreError as exc:
            if not isinstance(message, Hangup) or isinstance(exc, StateNotSaved):
                raise
            log.warning("session %s: the runtime store is unreachable; the hang-up goes on", session_id)
            await step(SessionRuntime())

    async def _guarded(self, peer: Peer, step: Awaitable[None]) -> None:
        """Run one message's handling; any failure becomes a ``server_error`` reply."""
        try:
            await step
        except service.SessionError as exc:
            await peer.send(error(exc.code))
        except RuntimeStoreError as exc:  # Redis is down: the peer may send it again
            log.warning("a signaling message was refused: %s", exc)
            await peer.send(error("server_error"))
        except Exception:
            log.exception("handling a signaling message failed")
            await peer.send(error("server_error"))

    # ------------------------------------------------------------------ accounts cut off

    async def account_changed(self, user_id: int, reason: revoked.Reason) -> None:
        """End what the change ends and close the consoles cut off (``cutoffs.py``); a method of
        the hub so that a test can put its own in place for one node."""
        await self.cutoffs.settle(user_id, reason)

    # ------------------------------------------------------------------ agent

    async def run_agent(self, ws: WebSocket) -> None:
        """Serve ``/ws/agent`` from accept to close: a ``join``, or the ``rejoin`` of a new socket."""
        self._ensure_expiry_loop()
        await ws.accept()
        peer = Peer(ws)
        set_language(self.settings.language)
        address = ws.client.host if ws.client else ""
        try:
            outcome = await admit(self, peer, address)
        except Exception:
            log.exception("agent join failed")
            outcome = None
            await self.try_send(peer, error("server_error", fatal=True))
        if outcome is None:
            await peer.close(CLOSE_POLICY)
            return
        if isinstance(outcome, Rejoining):
            await self._serve_agent(
                peer, outcome.session.id, address, lambda: self._greet_rejoined(peer, outcome)
            )
        else:
            await self._serve_agent(
                peer, outcome.joined.session_id, address, lambda: self._greet_joined(peer, outcome, address)
            )

    async def _greet_joined(self, peer: Peer, outcome: Admission, address: str) -> tuple[int, Greet]:
        joined, join = outcome.joined, outcome.join
        session_id = joined.session_id
        if outcome.upgraded:
            # The browser share still listens on the agent channel: tell it the app took over
            # (its connection ends on this) BEFORE the agent subscribes, then start afresh.
            await self.bus.publish(agent_channel(session_id), Upgraded().dumps())
        async with self.runtime(session_id) as held:
            if held.rt is None:
                raise service.SessionError("session_ended")
            # a first join (the code is single use) or the agent continuing a browser share:
            # afresh either way, but an earlier socket (the share's) stays older than this one
            held.rt = rt = SessionRuntime(
                mode=join.client if not outcome.upgraded else "agent",
                agent_generation=held.rt.agent_generation,
            )
            generation = self.agent_sockets.take(session_id, rt, peer)
            mode = rt.mode

        async def greet() -> None:
            await peer.send(joined)
            await self.bus.publish(
                console_channel(session_id),
                AgentJoined(
                    platform=join.platform,
                    language=join.language,
                    address=address,
                    mode=mode,
                    upgraded=outcome.upgraded,
                ).dumps(),
            )
            await self.publish_state(session_id)

        return generation, greet

    async def _greet_rejoined(self, peer: Peer, outcome: Rejoining) -> tuple[int, Greet]:
        session = outcome.session
        older = self.agent_sockets.held.get(session.id)
        async with self.runtime(session.id, session) as held:
            rt = held.rt
            if rt is None:
                raise service.SessionError("session_ended")
            generation = self.agent_sockets.take(session.id, rt, peer)
            rejoined = await resuming.rejoined(self, session, rt, outcome.rejoin.media)
        # an older socket of this agent: closed here, or by the node holding it (the notice)
        if older is not None:
            log.info("session %s: the agent rejoined on a new socket; the older one is closed", session.id)
            await older[1].close(CLOSE_REPLACED)
        await self.bus.publish(agent_channel(session.id), replaced(generation))

        async def greet() -> None:
            await peer.send(rejoined)
            await self.publish_state(session.id)

        return generation, greet

    async def _serve_agent(
        self,
        peer: Peer,
        session_id: str,
        address: str,
        take: Callable[[], Awaitable[tuple[int, Greet]]],
    ) -> None:
        """Subscribe, greet (``joined`` or ``rejoined``), pump; on a drop, what the session's step says."""
        ended = False
        taken = False
        try:
            # before subscribing: an upgrade tells the browser share on this channel to stop
            generation, greet = await take()
            taken = True
        except service.SessionError as exc:
            await self.try_send(peer, error(exc.code, fatal=True))
            await peer.close(CLOSE_POLICY)
            return
        except Exception:
            log.exception("agent join failed")
            await self.try_send(peer, error("server_error", fatal=True))
            await peer.close(CLOSE_POLICY)
            return
        finally:
            if not taken:  # registered by the take before it failed: this socket is closed
                self.agent_sockets.forget(session_id, peer)
        try:
            async with self.bus.subscribe(agent_channel(session_id)) as inbox:
                await greet()
                ended = await self._pump(
                    peer,
                    inbox,
                    lambda raw: self._guarded(peer, self._on_agent(peer, session_id, generation, raw)),
                    lambda raw: self._agent_internal(peer, session_id, generation, raw),
                )
        except Exception:
            log.exception("agent connection failed")
        finally:
            # Synchronous on purpose: the server may cancel this handler right after the
            # disconnect, and the session must still end (in a task of its own). A socket that a
            # newer one replaced on this node leaves nothing behind; one replaced on another node
            # finds that out in the store.
            if self.agent_socket(session_id) == generation:
                del self.agent_sockets.held[session_id]
                if not ended:
                    self.agent_dropped(session_id, generation, address)
        if ended:
            await peer.close(CLOSE_NORMAL)

    async def _agent_internal(self, peer: Peer, session_id: str, generation: int, raw: str) -> bool:
        """A bus message for this node on the agent channel; True: the socket was closed."""
        newer = replaced_generation(raw)
        if newer is not None:
            if newer > generation:
                await peer.close(CLOSE_REPLACED)
                return True
            return False
        if raw == RESYNC:  # the bus reconnected: an end may have been lost, or the store's state
            try:
                return await self.agent_sockets.tell_ended(
                    peer, session_id
                ) or await self.agent_sockets.reclaim(peer, session_id, generation)
            except Exception:
                log.warning("session %s: checking the agent's session after a resync failed", session_id)
        return False

    async def try_send(self, peer: Peer, message: Message) -> None:
        """Send what a closing peer may no longer take (a last word before the close): a failure
        is logged, never raised, so the close still happens."""
        try:
            await peer.send(message)
        except Exception:
            log.debug("could not send to a closing peer", exc_info=True)

    def agent_dropped(self, session_id: str, socket: int, address: str = "") -> None:
        """The agent socket ``socket`` of the session, once held here, is gone: what its drop
        does (:meth:`_agent_left`), in a task of its own (it may wait the pre-consent grace).
        Also the liveness sweep's, for a drop whose recording failed (the store unreachable)."""
        self._background(self._agent_left(session_id, address, socket), f"veo-agent-left-{session_id}")

    async def _agent_left(self, session_id: str, address: str, socket: int) -> None:
        """The agent's socket ``socket`` (its generation) went away without ``hangup``: an allowed
        session is interrupted and waits for a ``rejoin``; an earlier one ends after the short
        grace period unless a newer socket took over. The lock is not held while waiting."""
        async with self.runtime(session_id) as held:
            rt = held.rt
            if rt is None or rt.agent_generation != socket or rt.agent_node != self.node:
                return
            rt.agent_node, rt.unheld_since = None, self.clock()
            if resuming.drop_waits(rt):
                await resuming.interrupt_locked(self, session_id, rt, cause="disconnected", link="signaling")
                return
            await self.publish_state(session_id, rt)
        await self.sleep(self.agent_grace_seconds)
        async with self.runtime(session_id) as held:
            rt = held.rt
            if rt is None or rt.agent_node is not None or rt.agent_generation != socket:
                return
            await self.end(
                session_id,
                by="system",
                reason="agent_disconnected",
                actor=service.SYSTEM_ACTOR,
                address=address,
            )

    async def _on_agent(self, peer: Peer, session_id: str, generation: int, raw: str | bytes) -> None:
        try:
            message = parse_agent_message(raw)
        except ProtocolError as exc:
            log.info("session %s: bad agent message: %s %s", session_id, exc.code, exc.message)
            await peer.send(protocol_error(exc))
            return
        await self._locked_step(
            session_id,
            message,
            lambda rt: self._agent_step(peer, session_id, generation, message, rt),
        )

    async def _agent_step(
        self, peer: Peer, session_id: str, generation: int, message: AgentMessage, rt: SessionRuntime | None
    ) -> None:
        """One agent message under the session's lock (``rt``: its state, None when it ended)."""
        if rt is None:
            await peer.send(error("session_ended"))
            return
        if not await self.agent_sockets.holds(session_id, rt, generation):
            # a newer socket took over: the browser share the agent continued, or an older
            # socket of the agent whose replacement notice was lost
            await peer.send(error("session_ended"))
            if rt.mode == "agent":
                await peer.close(CLOSE_REPLACED)
            return
        if not agent_may_send(rt, message.type, resume=isinstance(message, Offer) and message.resume):
            log.info("session %s: agent %s out of order", session_id, message.type)
            await peer.send(error("out_of_order", message.type))
            return
        address = peer.ws.client.host if peer.ws.client else ""
        step = Step(self, session_id, rt, service.AGENT_ACTOR, address)
        await steps.AGENT_STEPS[message.type](step, message)

    # ------------------------------------------------------------------ console

    async def run_console(
        self, ws: WebSocket, session_id: str, user: User, web_session_id: int | None = None
    ) -> None:
        """Serve ``/ws/console`` for an accepted, authorized connection.

        ``web_session_id``: the browser session it was opened with; once that is gone (signed
        out, expired) the console's messages are refused.
        """
        self._ensure_expiry_loop()
        peer = Peer(ws)
        # the technician's own choice, else the page's (``?lang=``, its cookie, the browser's):
        # the refusals this socket answers are read beside the console's own texts
        set_language(user.language or language_from_request(ws))
        ended = False
        try:
            async with self.bus.subscribe(console_channel(session_id)) as inbox:
                if not await self._console_state(peer, session_id):
                    await peer.close(CLOSE_POLICY if await self._state(session_id) is None else CLOSE_NORMAL)
                    return
                connection = ConsoleConnection(user.id, session_id, web_session_id, peer)
                with self.consoles.open(connection):
                    ended = await self._pump(
                        peer,
                        inbox,
                        lambda raw: self._guarded(peer, self._on_console(connection, user, raw)),
                        lambda raw: self._console_internal(peer, session_id, raw),
                    )
        except Exception:
            log.exception("console connection failed")
        if ended:
            await peer.close(CLOSE_NORMAL)

    async def _console_state(self, peer: Peer, session_id: str, *, resync: bool = False) -> bool:
        """``session_state`` and any offer waiting for an answer; False when the session is over
        (after a resync, with the ``ended`` the bus may have lost)."""
        state = await self._state(session_id)
        if state is None:
            await peer.send(error("session_not_found", fatal=True))
            return False
        await peer.send(state)
        if state.status in ("ended", "expired"):
            if resync and state.status == "ended":
                session = await txn.run(self.db, lambda db: service.get_session(db, session_id))
                if session is not None:
                    await peer.send(ended_from_row(session))
            return False
        rt = await self._saved(session_id)
        if rt is not None and rt.pending_offer is not None and not rt.answered:
            # credentials made now: those sent with the offer may have expired since
            await peer.send(console_offer(self.settings, session_id, rt.pending_offer).dumps())
        return True

    async def _console_internal(self, peer: Peer, session_id: str, raw: str) -> bool:
        """The bus reconnected: what was published meanwhile may be lost, so the state again."""
        if raw == RESYNC:
            try:
                return not await self._console_state(peer, session_id, resync=True)
            except Exception:
                log.warning("session %s: re-sending the state after a bus resync failed", session_id)
        return False

    async def _on_console(self, connection: ConsoleConnection, user: User, raw: str | bytes) -> None:
        if connection.revoked is not None:  # cut off on this node: nothing more, not even parsing
            await self.cutoffs.refuse_revoked(connection, user.email)
            return
        peer, session_id = connection.peer, connection.session_id
        try:
            message = parse_console_message(raw)
        except ProtocolError as exc:
            log.info("session %s: bad console message: %s %s", session_id, exc.code, exc.message)
            await peer.send(protocol_error(exc))
            return
        if isinstance(message, Ping):  # the console checks its socket: answered at once, nothing else
            await peer.send(Pong())
            return
        await self._locked_step(
            session_id, message, lambda rt: self._console_step(connection, user, message, rt)
        )

    async def _console_step(
        self, connection: ConsoleConnection, user: User, message: ConsoleMessage, rt: SessionRuntime | None
    ) -> None:
        """One console message under the session's lock (``rt``: its state, None when it ended)."""
        peer, session_id = connection.peer, connection.session_id
        if rt is None:  # ended
            await peer.send(error("session_ended"))
            return
        if not console_may_send(rt, message.type):
            log.info("session %s: console %s out of order", session_id, message.type)
            await peer.send(error("out_of_order", message.type))
            return
        # the database's word last, right before the step: a garbled or untimely message costs
        # no transaction, a valid one is never acted on for an account that was cut off
        if await self.cutoffs.refuse_revoked(connection, user.email):
            return
        address = peer.ws.client.host if peer.ws.client else ""
        step = Step(self, session_id, rt, user.email, address, connection)
        await steps.CONSOLE_STEPS[message.type](step, message)
