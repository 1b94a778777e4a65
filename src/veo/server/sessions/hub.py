"""The signaling hub: a router between one agent and its technician's console(s).

Per connection it parses every message with ``veo.protocol``, checks it is allowed at this step
(``runtime.py``), records the step through ``service.py`` and relays what the other peer must see
over the bus (``session:<id>:agent`` / ``session:<id>:console``). A bad message gets an ``error``
reply and the connection stays open, except a bad ``join``, which is answered and closed. Nothing
raises out of a connection handler.

The console may reload at will: on (re)connect it gets ``session_state`` and any offer still
waiting for an answer. An agent that disappears without ``hangup`` before the user allowed the
session ends it (by ``system``, ``agent_disconnected``) after a short grace period; once allowed,
the session is interrupted and waits for the agent's ``rejoin`` for the session's grace period
(``resuming.py``), as it does for every live session when a server starts: no session is ended
because a server started.

A console acts for its account only while that account may: every console message is first
checked (``revocation.standing``) and refused, its session ended and its socket closed when the
account was cut off or its role no longer allows the session. An account change committed on
this node (``auth/revoked.py``) marks the account's open consoles at once, ends its sessions and
closes those sockets without waiting for their next message; the change also goes out on the bus
(``accounts``) so the other nodes do the same with the consoles they carry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from starlette.websockets import WebSocket

from veo.config import Settings
from veo.protocol.base import Message, ProtocolError
from veo.protocol.permissions import Permission
from veo.protocol.signaling import (
    AgentJoined,
    Ended,
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
from veo.server.bus.base import Bus
from veo.server.db.engine import Database
from veo.server.lang import set_language
from veo.server.sessions import asking, resuming, revocation, service, steps, txn
from veo.server.sessions.consoles import ConsoleConnection, ConsoleRegistry
from veo.server.sessions.ice import console_offer
from veo.server.sessions.join import Admission, Rejoining, admit, flush_refusals
from veo.server.sessions.ratelimit import RedemptionLimiter
from veo.server.sessions.refusal_log import RefusalLog
from veo.server.sessions.runtime import SessionRuntime, agent_may_send, console_may_send
from veo.server.sessions.steps import Step
from veo.server.sessions.wire import (
    CLOSE_NORMAL,
    CLOSE_POLICY,
    Peer,
    agent_channel,
    console_channel,
    error,
    is_ended,
    protocol_error,
)
from veo.server.web.templating import language_from_request
from veo.tasks import spawn

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
#: Tells a newly taken agent socket (and the consoles) what it needs: ``joined`` or ``rejoined``.
Greet = Callable[[], Awaitable[None]]
#: Bus channel of account changes (``{"node", "user_id", "reason"}``), for every node's consoles.
ACCOUNTS_CHANNEL = "accounts"
#: A console closed because its account was cut off: final for the console (it says "signed out").
CLOSE_REVOKED = 4401
#: An agent socket closed because a newer one of the same agent rejoined the session.
CLOSE_REPLACED = 4409


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
        self._runtimes: dict[str, SessionRuntime] = {}
        #: monotonic seconds, for the mid-session questions' waits (tests set their own clock)
        self.clock: Callable[[], float] = time.monotonic
        self._tasks: set[asyncio.Task[Any]] = set()
        self._expiry_started = False
        #: this node's open consoles, by account (``consoles.py``)
        self.consoles = ConsoleRegistry()
        self.node = secrets.token_hex(8)
        self._loop: asyncio.AbstractEventLoop | None = None
        revoked.listen(db.sessionmaker, self._accounts_committed)

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
            self._background(self._accounts_loop(), "veo-account-changes")

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.expiry_interval_seconds)
            await self.expire_now()
            await self.write_refusals()

    async def expire_now(self) -> list[str]:
        """Expire waiting sessions whose code ran out and tell their consoles."""
        try:
            expired = await txn.run(self.db, service.expire_waiting)
        except Exception:
            log.exception("expiring waiting sessions failed")
            return []
        for session_id in expired:
            self._runtimes.pop(session_id, None)
            await self.publish_state(session_id)
        return expired

    async def start(self) -> None:
        """At server start: what a previous process left live is interrupted, not ended (its peers
        may come back within the session's grace period); then the expiry loop starts."""
        self._ensure_expiry_loop()
        await resuming.at_start(self)

    async def close(self) -> None:
        """Cancel the expiry loop and pending grace timers (connections end with the server)."""
        await self.write_refusals(everything=True)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def write_refusals(self, *, everything: bool = False) -> None:
        """Audit the refused joins counted in windows that closed (``refusal_log.py``).

        Refused sign-ins are ``auth/housekeeping.py``'s.
        """
        try:
            await flush_refusals(self, everything=everything)
        except Exception:
            log.exception("writing the summary of refused joins failed")

    # ------------------------------------------------------------------ shared steps

    def _runtime(self, session_id: str) -> SessionRuntime:
        return self._runtimes.setdefault(session_id, SessionRuntime())

    async def _state(self, session_id: str) -> SessionState | None:
        session = await txn.run(self.db, lambda db: service.get_session(db, session_id))
        if session is None:
            return None
        rt = self._runtimes.get(session_id)
        lost = rt.interruption if rt else None
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
            permission_pending=asking.pending_for_state(rt.permission_ask if rt else None, self.clock()),
            interrupted=lost is not None,
            resume_deadline=lost.deadline.isoformat() if lost is not None else None,
        )

    async def publish_state(self, session_id: str) -> None:
        state = await self._state(session_id)
        if state is not None:
            await self.bus.publish(console_channel(session_id), state.dumps())

    async def announce_end(self, session_id: str, by: service.EndedBy, reason: str) -> None:
        rt = self._runtimes.pop(session_id, None)
        if rt is not None:
            resuming.stop_timer(rt)
        ended = Ended(by=by, reason=reason[:200]).dumps()
        await self.bus.publish(agent_channel(session_id), ended)
        await self.publish_state(session_id)
        await self.bus.publish(console_channel(session_id), ended)

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
        self, peer: Peer, inbox: AsyncIterator[str], handle: Callable[[str | bytes], Awaitable[None]]
    ) -> bool:
        """Read the peer and forward the bus until either stops; True if the session ended."""
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

    async def _guarded(self, peer: Peer, step: Awaitable[None]) -> None:
        """Run one message's handling; any failure becomes a ``server_error`` reply."""
        try:
            await step
        except service.SessionError as exc:
            await peer.send(error(exc.code))
        except Exception:
            log.exception("handling a signaling message failed")
            await peer.send(error("server_error"))

    # ------------------------------------------------------------------ accounts cut off

    def _accounts_committed(self, changes: list[revoked.Revocation]) -> None:
        """Called in the thread that committed account changes: mark now, act on the loop.

        The mark is synchronous, so once the admin's (or the technician's) request has its answer,
        no message of the account's open consoles is relayed any more.
        """
        self._mark(changes)
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # no console ever opened here; the per-message check covers the rest
        work = self._accounts_changed(changes, publish=True)
        try:
            loop.call_soon_threadsafe(self._background, work, "veo-account-changed")
        except RuntimeError:  # the loop closed meanwhile (server stopping): its consoles are gone
            work.close()

    async def _accounts_changed(self, changes: list[revoked.Revocation], *, publish: bool) -> None:
        for change in changes:
            try:
                await self.account_changed(change.user_id, change.reason)
            except Exception:
                log.exception("cutting off account %s failed", change.user_id)
            if publish:
                raw = json.dumps({"node": self.node, "user_id": change.user_id, "reason": change.reason})
                await self.bus.publish(ACCOUNTS_CHANNEL, raw)

    async def _accounts_loop(self) -> None:
        """Account changes committed on other nodes: cut off the consoles this node carries."""
        async with self.bus.subscribe(ACCOUNTS_CHANNEL) as inbox:
            async for raw in inbox:
                try:
                    data = json.loads(raw)
                    change = revoked.Revocation(int(data["user_id"]), data["reason"])
                    if data.get("node") == self.node or change.reason not in revoked.REVIEW | revoked.CUT_OFF:
                        continue
                except (ValueError, KeyError, TypeError):
                    log.warning("ignored a malformed account change on the bus")
                    continue
                self._mark([change])
                await self._accounts_changed([change], publish=False)

    def _mark(self, changes: list[revoked.Revocation]) -> None:
        """Credentials cut off: the account's consoles may relay nothing more, from now."""
        for change in changes:
            if change.reason in revoked.CUT_OFF:
                self.consoles.revoke(change.user_id, change.reason)

    async def account_changed(self, user_id: int, reason: revoked.Reason) -> None:
        """End what the change ends (``revocation.settle``) and close the consoles cut off."""
        attached = {c.session_id for c in self.consoles.of_user(user_id)}
        ended = await txn.run(self.db, lambda db: revocation.settle(db, user_id, reason, attached))
        for session_id, why in ended:
            log.info("session %s ended: its technician's access changed (%s)", session_id, why)
            # its own consoles first (told why, closed for good), then the agent and any other
            for connection in self.consoles.revoke(user_id, why, {session_id}):
                await self._cut(connection, session_id)
            await self.announce_end(session_id, "system", why)
        for connection in self.consoles.of_user(user_id):
            if connection.revoked is not None:
                await self._cut(connection, connection.session_id)

    async def _cut(self, connection: ConsoleConnection, session_id: str) -> None:
        """Tell a revoked console how its session ended (if it did), then close it for good."""
        ended = await txn.run(self.db, lambda db: service.get_session(db, session_id))
        if ended is not None and ended.status == "ended":
            await self._try_send(connection.peer, Ended(by="system", reason=(ended.end_reason or "")[:200]))
        await connection.peer.close(CLOSE_REVOKED)

    async def _refuse_revoked(self, connection: ConsoleConnection, email: str) -> bool:
        """Before anything of a console message is done: True (and the session ended, the socket
        closed) when the account may no longer drive it. The database answers for changes made
        anywhere (another node, ``veo admin``); the flag answers at once for changes made here."""
        why = connection.revoked
        if why is None:
            why = await txn.run(
                self.db,
                lambda db: revocation.standing(
                    db,
                    user_id=connection.user_id,
                    web_session_id=connection.web_session_id,
                    session_id=connection.session_id,
                ),
            )
        if why is None:
            return False
        connection.revoked = connection.revoked or why
        session_id = connection.session_id
        log.info("session %s: console message refused, its account's access changed (%s)", session_id, why)
        ended = await txn.run(
            self.db,
            lambda db: service.end_where(
                db,
                [session_id],
                lambda _session: why,
                details={"account": email, "change": why},
            ),
        )
        await self._cut(connection, session_id)
        if ended:
            await self.announce_end(session_id, "system", why)
        return True

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
            await self._try_send(peer, error("server_error", fatal=True))
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

    async def _greet_joined(
        self, peer: Peer, outcome: Admission, address: str
    ) -> tuple[SessionRuntime, Greet]:
        joined, join = outcome.joined, outcome.join
        session_id = joined.session_id
        if outcome.upgraded:
            # The browser share still listens on the agent channel: tell it the app took over
            # (its connection ends on this) BEFORE the agent subscribes, then start afresh.
            await self.bus.publish(agent_channel(session_id), Upgraded().dumps())
            self._runtimes[session_id] = SessionRuntime()
        rt = self._runtime(session_id)
        rt.mode = join.client if not outcome.upgraded else "agent"
        self._take_agent(rt, peer)

        async def greet() -> None:
            await peer.send(joined)
            await self.bus.publish(
                console_channel(session_id),
                AgentJoined(
                    platform=join.platform,
                    language=join.language,
                    address=address,
                    mode=rt.mode,
                    upgraded=outcome.upgraded,
                ).dumps(),
            )
            await self.publish_state(session_id)

        return rt, greet

    async def _greet_rejoined(self, peer: Peer, outcome: Rejoining) -> tuple[SessionRuntime, Greet]:
        session = outcome.session
        rt = resuming.adopt(self, session)
        older = self._take_agent(rt, peer)
        if older is not None:
            log.info("session %s: the agent rejoined on a new socket; the older one is closed", session.id)
            await older.close(CLOSE_REPLACED)
        rejoined = await resuming.rejoined(self, session, rt, outcome.rejoin.media)

        async def greet() -> None:
            await peer.send(rejoined)
            await self.publish_state(session.id)

        return rt, greet

    def _take_agent(self, rt: SessionRuntime, peer: Peer) -> Peer | None:
        """``peer`` is now the session's agent socket; the one it replaces, if any."""
        older, rt.agent_peer = rt.agent_peer, peer
        rt.agent_generation += 1
        rt.agent_connected = True
        return older

    async def _serve_agent(
        self,
        peer: Peer,
        session_id: str,
        address: str,
        take: Callable[[], Awaitable[tuple[SessionRuntime, Greet]]],
    ) -> None:
        """Subscribe, greet (``joined`` or ``rejoined``), pump; on a drop, what the session's step says."""
        ended = False
        try:
            # before subscribing: an upgrade tells the browser share on this channel to stop
            rt, greet = await take()
        except Exception:
            log.exception("agent join failed")
            await self._try_send(peer, error("server_error", fatal=True))
            await peer.close(CLOSE_POLICY)
            return
        generation = rt.agent_generation
        try:
            async with self.bus.subscribe(agent_channel(session_id)) as inbox:
                await greet()
                ended = await self._pump(
                    peer, inbox, lambda raw: self._guarded(peer, self._on_agent(peer, session_id, rt, raw))
                )
        except Exception:
            log.exception("agent connection failed")
        finally:
            # Synchronous on purpose: the server may cancel this handler right after the
            # disconnect, and the session must still end (in a task of its own). A socket that a
            # newer one replaced leaves nothing behind.
            if rt.agent_generation == generation:
                rt.agent_connected = False
                rt.agent_peer = None
                if not ended and self._runtimes.get(session_id) is rt:
                    left = self._agent_left(session_id, address, rt, generation)
                    self._background(left, f"veo-agent-left-{session_id}")
        if ended:
            await peer.close(CLOSE_NORMAL)

    async def _try_send(self, peer: Peer, message: Message) -> None:
        try:
            await peer.send(message)
        except Exception:
            log.debug("could not send to a closing peer", exc_info=True)

    async def _agent_left(self, session_id: str, address: str, rt: SessionRuntime, socket: int) -> None:
        """The agent's socket ``socket`` (its generation) went away without ``hangup``: an allowed
        session is interrupted and waits for a ``rejoin``; an earlier one ends after the short
        grace period unless a newer socket took over."""
        if resuming.drop_waits(rt):
            await resuming.interrupt(
                self, session_id, rt, cause="disconnected", link="signaling", socket=socket
            )
            return
        await self.publish_state(session_id)
        await self.sleep(self.agent_grace_seconds)
        if rt.agent_connected or rt.agent_generation != socket or self._runtimes.get(session_id) is not rt:
            return
        await self.end(
            session_id, by="system", reason="agent_disconnected", actor=service.SYSTEM_ACTOR, address=address
        )

    async def _on_agent(self, peer: Peer, session_id: str, rt: SessionRuntime, raw: str | bytes) -> None:
        try:
            message = parse_agent_message(raw)
        except ProtocolError as exc:
            log.info("session %s: bad agent message: %s %s", session_id, exc.code, exc.message)
            await peer.send(protocol_error(exc))
            return
        if self._runtimes.get(session_id) is not rt:  # a browser share the agent took over
            await peer.send(error("session_ended"))
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
                state = await self._state(session_id)
                if state is None:
                    await peer.send(error("session_not_found", fatal=True))
                    await peer.close(CLOSE_POLICY)
                    return
                await peer.send(state)
                if state.status in ("ended", "expired"):
                    await peer.close(CLOSE_NORMAL)
                    return
                rt = self._runtime(session_id)
                if rt.pending_offer is not None and not rt.answered:
                    # credentials made now: those sent with the offer may have expired since
                    await peer.send(console_offer(self.settings, session_id, rt.pending_offer).dumps())
                connection = ConsoleConnection(user.id, session_id, web_session_id, peer)
                with self.consoles.open(connection):
                    ended = await self._pump(
                        peer,
                        inbox,
                        lambda raw: self._guarded(peer, self._on_console(connection, user, raw)),
                    )
        except Exception:
            log.exception("console connection failed")
        if ended:
            await peer.close(CLOSE_NORMAL)

    async def _on_console(self, connection: ConsoleConnection, user: User, raw: str | bytes) -> None:
        if connection.revoked is not None:  # cut off on this node: nothing more, not even parsing
            await self._refuse_revoked(connection, user.email)
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
        rt = self._runtimes.get(session_id)
        if rt is None:  # ended (or never live on this node)
            await peer.send(error("session_ended"))
            return
        if not console_may_send(rt, message.type):
            log.info("session %s: console %s out of order", session_id, message.type)
            await peer.send(error("out_of_order", message.type))
            return
        # the database's word last, right before the step: a garbled or untimely message costs
        # no transaction, a valid one is never acted on for an account that was cut off
        if await self._refuse_revoked(connection, user.email):
            return
        address = peer.ws.client.host if peer.ws.client else ""
        step = Step(self, session_id, rt, user.email, address, connection)
        await steps.CONSOLE_STEPS[message.type](step, message)
