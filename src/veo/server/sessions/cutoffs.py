"""Accounts cut off mid-session: the hub's side of ``revocation.py``.

An account change committed on this node (``auth/revoked.py``) marks the account's open consoles
at once, ends its sessions and closes those sockets without waiting for their next message; the
change also goes out on the bus (``accounts``) so the other nodes do the same with the consoles
they carry. A change a node missed is still caught at the console's next message
(:meth:`Cutoffs.refuse_revoked`, ``revocation.standing``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from veo.protocol.signaling import Ended
from veo.server.auth import revoked
from veo.server.bus.base import RESYNC
from veo.server.sessions import revocation, service, txn
from veo.server.sessions.consoles import ConsoleConnection

if TYPE_CHECKING:
    from veo.server.sessions.hub import SignalingHub

log = logging.getLogger(__name__)

#: Bus channel of account changes (``{"node", "user_id", "reason"}``), for every node's consoles.
ACCOUNTS_CHANNEL = "accounts"
#: The first pause before listening for account changes again (then doubled, up to the max).
ACCOUNTS_RETRY_SECONDS = 1.0
ACCOUNTS_RETRY_MAX_SECONDS = 30.0
#: A console closed because its account was cut off: final for the console (it says "signed out").
CLOSE_REVOKED = 4401


class Cutoffs:
    """The account changes of one node's hub: what it is told, listens for and refuses."""

    def __init__(self, hub: SignalingHub) -> None:
        self.hub = hub

    def committed(self, changes: list[revoked.Revocation]) -> None:
        """Called in the thread that committed account changes: mark now, act on the loop.

        The mark is synchronous, so once the admin's (or the technician's) request has its answer,
        no message of the account's open consoles is relayed any more.
        """
        self.mark(changes)
        loop = self.hub._loop
        if loop is None or loop.is_closed():
            return  # no console ever opened here; the per-message check covers the rest
        work = self.changed(changes, publish=True)
        try:
            loop.call_soon_threadsafe(self.hub._background, work, "veo-account-changed")
        except RuntimeError:  # the loop closed meanwhile (server stopping): its consoles are gone
            work.close()

    async def changed(self, changes: list[revoked.Revocation], *, publish: bool) -> None:
        """Each change on its own: one that fails here, or that the bus cannot carry now (Redis
        down, given up after its bound), is logged and the others are still acted on and sent.
        A change the other nodes missed is still caught there at the console's next message
        (``revocation.standing``)."""
        hub = self.hub
        for change in changes:
            try:
                # through the hub: what a test puts in its place is what is called
                await hub.account_changed(change.user_id, change.reason)
            except Exception:
                log.exception("cutting off account %s failed", change.user_id)
            if not publish:
                continue
            raw = json.dumps({"node": hub.node, "user_id": change.user_id, "reason": change.reason})
            try:
                await hub.bus.publish(ACCOUNTS_CHANNEL, raw)
            except Exception as exc:
                log.warning("account %s changed; other nodes not told now: %s", change.user_id, exc)

    async def listen(self) -> None:
        """Account changes committed on other nodes: cut off the consoles this node carries.

        Listens for the node's lifetime: a subscription the bus cannot make (Redis not up yet
        when the node starts, or down) or that ends is made again after a growing pause.
        """
        pause = ACCOUNTS_RETRY_SECONDS
        while True:
            try:
                async with self.hub.bus.subscribe(ACCOUNTS_CHANNEL) as inbox:
                    pause = ACCOUNTS_RETRY_SECONDS
                    async for raw in inbox:
                        await self._message(raw)
            except Exception as exc:
                log.warning("listening for account changes failed; again in %.0f s: %s", pause, exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, ACCOUNTS_RETRY_MAX_SECONDS)

    async def _message(self, raw: str) -> None:
        if raw == RESYNC:
            return
        try:
            data = json.loads(raw)
            change = revoked.Revocation(int(data["user_id"]), data["reason"])
            if data.get("node") == self.hub.node or change.reason not in revoked.REVIEW | revoked.CUT_OFF:
                return
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed account change on the bus")
            return
        self.mark([change])
        await self.changed([change], publish=False)

    def mark(self, changes: list[revoked.Revocation]) -> None:
        """Credentials cut off: the account's consoles may relay nothing more, from now."""
        for change in changes:
            if change.reason in revoked.CUT_OFF:
                self.hub.consoles.revoke(change.user_id, change.reason)

    async def settle(self, user_id: int, reason: revoked.Reason) -> None:
        """End what the change ends (``revocation.settle``) and close the consoles cut off."""
        hub = self.hub
        attached = {c.session_id for c in hub.consoles.of_user(user_id)}
        ended = await txn.run(hub.db, lambda db: revocation.settle(db, user_id, reason, attached))
        for session_id, why in ended:
            log.info("session %s ended: its technician's access changed (%s)", session_id, why)
            # its own consoles first (told why, closed for good), then the agent and any other
            for connection in hub.consoles.revoke(user_id, why, {session_id}):
                await self.cut(connection, session_id)
            await hub.announce_end(session_id, "system", why)
        for connection in hub.consoles.of_user(user_id):
            if connection.revoked is not None:
                await self.cut(connection, connection.session_id)

    async def cut(self, connection: ConsoleConnection, session_id: str) -> None:
        """Tell a revoked console how its session ended (if it did), then close it for good."""
        hub = self.hub
        ended = await txn.run(hub.db, lambda db: service.get_session(db, session_id))
        if ended is not None and ended.status == "ended":
            await hub.try_send(connection.peer, Ended(by="system", reason=(ended.end_reason or "")[:200]))
        await connection.peer.close(CLOSE_REVOKED)

    async def refuse_revoked(self, connection: ConsoleConnection, email: str) -> bool:
        """Before anything of a console message is done: True (and the session ended, the socket
        closed) when the account may no longer drive it. The database answers for changes made
        anywhere (another node, ``veo admin``); the flag answers at once for changes made here."""
        hub = self.hub
        why = connection.revoked
        if why is None:
            why = await txn.run(
                hub.db,
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
            hub.db,
            lambda db: service.end_where(
                db,
                [session_id],
                lambda _session: why,
                details={"account": email, "change": why},
            ),
        )
        await self.cut(connection, session_id)
        if ended:
            await hub.announce_end(session_id, "system", why)
        return True
