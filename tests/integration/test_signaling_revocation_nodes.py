"""An account cut off on one node closes the consoles another node carries (the ``accounts`` bus).

Two hubs share one database and one bus, each with its own ``Database`` (so a change committed
through node A's is seen by node A's commit hook only, as with two server processes). The
console on node B is a stand-in peer that records what it is sent and how it is closed; nothing
on node B sees the change except the bus message node A publishes. Both buses: the in-process one
and Redis (skipped when no Redis answers, except in CI).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from veo.config import Settings
from veo.protocol.base import Message
from veo.server.auth import accounts
from veo.server.auth.models import User
from veo.server.bus.base import Bus
from veo.server.bus.memory import MemoryBus
from veo.server.bus.redis import RedisBus
from veo.server.db.engine import Database
from veo.server.sessions import service as sessions
from veo.server.sessions.consoles import ConsoleConnection
from veo.server.sessions.cutoffs import ACCOUNTS_CHANNEL, CLOSE_REVOKED
from veo.server.sessions.hub import SignalingHub
from veo.server.tickets.models import Ticket

pytestmark = pytest.mark.timeout(60)
REDIS_URL = os.environ.get("VEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class StandInPeer:
    """What the hub needs of a console's socket: ``send`` and ``close``; it remembers both."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def send(self, message: Message | str) -> None:
        self.sent.append(message if isinstance(message, str) else message.dumps())

    async def close(self, code: int = 1000) -> None:
        if not self.closed.done():
            self.closed.set_result(code)


@asynccontextmanager
async def bus_of(kind: str) -> AsyncIterator[Bus]:
    if kind == "memory":
        bus: Bus = MemoryBus()
    else:
        # a prefix of this test's own: pub/sub channels are server-wide, not per Redis database,
        # and ACCOUNTS_CHANNEL is one name for every node (and every xdist worker's test)
        bus = RedisBus(REDIS_URL, prefix=f"veo-test:{uuid.uuid4().hex}:")
        try:
            await bus.ping()
        except Exception as exc:
            await bus.close()
            if os.environ.get("CI") == "true":
                pytest.fail(f"Redis is required in CI: {exc}")
            pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    try:
        yield bus
    finally:
        await bus.close()


def _technician_with_an_active_session(db: Database) -> tuple[int, str]:
    with db.session() as s:
        user = User(email="tech@example.org", name="Ana", role="technician", password_hash="x")
        ticket = Ticket(title="Printer", requester_name="Bob", requester_email="bob@example.org")
        s.add_all([user, ticket])
        s.flush()
        created = sessions.create_session(
            s, ticket_id=ticket.id, technician=user, permissions=["view", "control"], ttl_seconds=600
        )
        created.status, created.granted_permissions = "active", ["view", "control"]
        return user.id, created.id


async def _subscribed(bus: Bus, count: int) -> None:
    """Both hubs listen on ``accounts`` (the memory bus can say; Redis needs a moment)."""
    if isinstance(bus, MemoryBus):
        for _ in range(500):
            if bus.subscriber_count(ACCOUNTS_CHANNEL) >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the hubs never subscribed to the accounts channel")
    await asyncio.sleep(0.5)


@pytest.mark.parametrize("bus_kind", ["memory", "redis"])
async def test_a_deactivation_on_node_a_closes_the_console_on_node_b(
    tmp_path: Path, database_url: str, bus_kind: str
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    db_a, db_b = Database(database_url), Database(database_url)
    async with bus_of(bus_kind) as bus:
        node_a = SignalingHub(db=db_a, bus=bus, settings=settings)
        node_b = SignalingHub(db=db_b, bus=bus, settings=settings)
        try:
            await node_a.start()  # each starts listening on the bus, as at server start
            await node_b.start()
            await _subscribed(bus, 2)
            user_id, session_id = _technician_with_an_active_session(db_b)
            peer = StandInPeer()
            console = ConsoleConnection(user_id, session_id, None, peer)  # type: ignore[arg-type]
            with node_b.consoles.open(console):

                def deactivate(s: Session) -> None:
                    user = s.get(User, user_id)
                    assert user is not None
                    accounts.set_active(s, user, False, actor="admin@example.org")

                await db_a.run(deactivate)  # an admin's request on node A
                code = await asyncio.wait_for(peer.closed, timeout=30)
            assert code == CLOSE_REVOKED
            assert console.revoked == "account_deactivated"
            assert any('"reason":"account_deactivated"' in m.replace(" ", "") for m in peer.sent), peer.sent
            with db_b.session() as s:
                row = sessions.get_session(s, session_id)
                assert row is not None and (row.status, row.end_reason) == ("ended", "account_deactivated")
        finally:
            await node_a.close()
            await node_b.close()
            db_a.dispose()
            db_b.dispose()
