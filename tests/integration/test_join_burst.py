"""Bursts of parallel joins against a real ``veo server`` on loopback: the code limits hold.

The probe behind issue 12 opened hundreds of WebSocket connections and sent a wrong code on each at
once: the limiter was asked before the lookup and told of the failure after it, so every join in
flight passed the check. Here the server is the real app under Uvicorn; clients come from several
loopback addresses (127.0.0.x, each its own address group). Two things are swapped, neither of
which decides anything: the hub's ``sleep`` records the delays instead of waiting them, and the
database is *gated*: no transaction starts until the server has read every join of the burst. That
gate turns "the burst raced the lookups" from likely into certain, so a limiter that counts late
lets the whole burst through (the old behaviour), and one that counts before the lookup cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
import websockets
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.sqlite_template import migrated_sqlite
from tests.support import make_user
from websockets.exceptions import ConnectionClosed

from veo.config import Settings
from veo.protocol.signaling import parse_agent_message
from veo.server.app import create_app
from veo.server.audit.models import AuditEvent
from veo.server.audit.verify import walk
from veo.server.db.engine import Database
from veo.server.main import WS_MAX_SIZE
from veo.server.sessions import join as join_module
from veo.server.sessions import service
from veo.server.sessions.hub import SignalingHub
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.ratelimit import RedemptionLimiter, Slot
from veo.server.tickets.service import create_ticket
from veo.tasks import spawn

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.filterwarnings("ignore:The `websockets` implementation is deprecated"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:websockets.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:uvicorn.*"),
]

T = TypeVar("T")


class GatedDatabase:
    """The app's database, but transactions wait for ``gate``: the burst is all read before any lookup."""

    def __init__(self, db: Database, gate: asyncio.Event) -> None:
        self._db = db
        self._gate = gate

    async def run(self, work: Callable[[Session], T]) -> T:
        await self._gate.wait()
        return await self._db.run(work)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


@dataclass
class Server:
    url: str
    hub: SignalingHub
    db: Database
    gate: asyncio.Event
    settled: list[int] = field(default_factory=lambda: [0])
    slept: list[float] = field(default_factory=list)

    def use(self, limiter: RedemptionLimiter) -> RedemptionLimiter:
        """Put ``limiter`` in the hub, counting the joins it refuses at the door as settled."""
        enter = limiter.enter

        async def counting_enter(address: str) -> Slot | None:
            slot = await enter(address)
            if slot is None:
                self.settled[0] += 1
            return slot

        limiter.enter = counting_enter  # type: ignore[method-assign]
        self.hub.limiter = limiter
        return limiter

    async def settle(self, count: int) -> None:
        """Wait (bounded by the test's timeout) until ``count`` joins were read or refused at the door."""
        while self.settled[0] < count:  # noqa: ASYNC110 - counted by plain callbacks, no event to await
            await asyncio.sleep(0.01)

    def live_code(self) -> tuple[str, str]:
        """A waiting session's (id, code), issued as a technician would."""
        tech = make_user(self.db, f"tech-{uuid.uuid4().hex[:8]}@example.org").user
        body = {"title": "Printer offline", "requester_name": "Bob", "requester_email": "bob@example.org"}
        with self.db.session() as s:
            ticket = create_ticket(s, body, creator=tech)
            created = service.create_session(
                s, ticket_id=ticket.id, technician=tech, permissions=["view"], ttl_seconds=600
            )
            assert created.code is not None
            return created.id, created.code

    def status(self, session_id: str) -> str:
        with self.db.session() as s:
            row = s.get(RemoteSession, session_id)
            assert row is not None
            return row.status

    def rejections(self) -> list[AuditEvent]:
        with self.db.session() as s:
            query = select(AuditEvent).where(AuditEvent.action == "session.code_rejected")
            return list(s.scalars(query.order_by(AuditEvent.seq)))


@pytest.fixture
async def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Server]:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=migrated_sqlite(tmp_path / "veo.db"), public_url="http://x"
    )
    app = create_app(settings)
    hub: SignalingHub = app.state.hub
    gate = asyncio.Event()
    env = Server("", hub, app.state.db, gate)
    env.use(RedemptionLimiter())

    async def record_sleep(seconds: float) -> None:
        env.slept.append(seconds)
        await asyncio.sleep(0)

    hub.sleep = record_sleep

    def counting_parse(raw: str | bytes) -> Any:
        message = parse_agent_message(raw)
        env.settled[0] += 1
        return message

    monkeypatch.setattr(join_module, "parse_agent_message", counting_parse)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets", ws_max_size=WS_MAX_SIZE)
    uv = uvicorn.Server(config)
    task = spawn(uv.serve(sockets=[sock]), name="join-burst-test")
    while not uv.started:
        assert not task.done(), "the server stopped during start-up"
        await asyncio.sleep(0.02)
    hub.db = GatedDatabase(app.state.db, gate)  # type: ignore[assignment]  # after start-up used it
    env.url = f"ws://127.0.0.1:{sock.getsockname()[1]}/ws/agent"
    try:
        yield env
    finally:
        gate.set()
        uv.should_exit = True
        await task
        sock.close()


def join_text(code: str) -> str:
    return json.dumps({"v": 1, "type": "join", "code": code, "platform": "linux", "language": "en"})


async def open_agents(url: str, count: int, source: str = "127.0.0.1") -> list[Any]:
    return list(
        await asyncio.gather(
            *(websockets.connect(url, local_addr=(source, 0), open_timeout=30) for _ in range(count))
        )
    )


async def send(ws: Any, code: str) -> None:
    """Send a join; a connection the server already refused at the door may be closed by now."""
    with contextlib.suppress(ConnectionClosed):
        await ws.send(join_text(code))


async def answer(ws: Any) -> str:
    """The server's answer (``joined`` or the refusal's code), read even after it closed."""
    try:
        data = json.loads(await ws.recv())
        return str(data.get("code") or data["type"])
    finally:
        await ws.close()


def wrong(i: int) -> str:
    return f"{(123_000_000 + i) % 10**9:09d}"


@pytest.mark.parametrize("in_flight", [4, 1000], ids=["door-capped", "door-open"])
async def test_a_burst_from_one_address_gets_no_more_lookups_than_its_limit(
    server: Server, in_flight: int
) -> None:
    """200 pre-opened connections, a wrong code on each at once: at most ``max_failures`` are looked up.

    With the door open (no cap on joins in flight) the count made before the lookup alone holds
    the line: exactly ``max_failures`` lookups, the rest refused without one.
    """
    limiter = server.use(RedemptionLimiter(max_in_flight=in_flight))
    agents = await open_agents(server.url, 200)
    await asyncio.gather(*(send(ws, wrong(i)) for i, ws in enumerate(agents)))
    await server.settle(200)
    server.gate.set()
    answers = await asyncio.gather(*(answer(ws) for ws in agents))
    looked_up = answers.count("code_unknown")
    at_the_door = answers.count("too_many_joins")
    assert looked_up + answers.count("rate_limited") + at_the_door == 200, answers
    assert at_the_door == (200 - in_flight if in_flight < 200 else 0)  # no code read: its own answer
    assert looked_up == min(limiter.max_failures, in_flight)
    assert await limiter.failures("127.0.0.1") == looked_up


async def test_a_live_code_late_in_a_burst_is_refused(server: Server) -> None:
    """The probe's third finding: a live code sent after 199 wrong ones answered ``joined``."""
    server.use(RedemptionLimiter(max_in_flight=1000))
    session_id, code = server.live_code()
    agents = await open_agents(server.url, 200)
    await asyncio.gather(*(send(ws, wrong(i)) for i, ws in enumerate(agents[:-1])))
    await server.settle(199)
    await send(agents[-1], code)
    await server.settle(200)
    server.gate.set()
    answers = await asyncio.gather(*(answer(ws) for ws in agents))
    assert answers.count("code_unknown") == 5
    assert answers[-1] == "rate_limited"
    assert server.status(session_id) == "waiting"


async def test_many_addresses_each_get_their_limit_and_no_more(server: Server) -> None:
    """20 addresses x 30 parallel wrong codes: each address's lookups stay within its own limit."""
    limiter = server.use(RedemptionLimiter(max_in_flight=1000))
    sources = [f"127.0.0.{10 + n}" for n in range(20)]
    per_source = [await open_agents(server.url, 30, source) for source in sources]
    await asyncio.gather(
        *(send(ws, wrong(100 * n + i)) for n, group in enumerate(per_source) for i, ws in enumerate(group))
    )
    await server.settle(600)
    server.gate.set()
    for group in per_source:
        answers = await asyncio.gather(*(answer(ws) for ws in group))
        assert answers.count("code_unknown") == limiter.max_failures, answers


async def test_a_flood_does_not_shut_out_a_valid_code_from_a_clean_address(server: Server) -> None:
    """The global budget used to refuse everyone once the flood had failed enough: now it slows the flood."""
    limiter = server.use(RedemptionLimiter(max_failures=5, flood_failures=40))
    server.gate.set()
    sources = [f"127.0.0.{50 + n}" for n in range(20)]
    answers: list[str] = []
    for round_ in range(5):  # one wrong code per address per round, answered before the next
        agents = [(await open_agents(server.url, 1, source))[0] for source in sources]
        await asyncio.gather(*(send(ws, wrong(round_ * 100 + n)) for n, ws in enumerate(agents)))
        answers += await asyncio.gather(*(answer(ws) for ws in agents))
    assert await limiter.flooded()
    # the flood is slowed: two rounds looked up (40 failures), then each address's allowance shrank
    assert answers.count("code_unknown") == 2 * len(sources)
    assert answers.count("rate_limited") == 3 * len(sources)
    assert server.slept and max(server.slept) == limiter.max_delay
    session_id, code = server.live_code()
    (flooder,) = await open_agents(server.url, 1, sources[0])
    await send(flooder, code)
    assert await answer(flooder) == "rate_limited"
    assert server.status(session_id) == "waiting"
    # ... but a user in good standing joins at once, during the flood, without waiting
    waited = len(server.slept)
    (user,) = await open_agents(server.url, 1, "127.0.0.200")
    await send(user, code)
    assert await answer(user) == "joined"
    assert server.status(session_id) != "waiting"
    assert len(server.slept) == waited


async def test_a_flood_of_refusals_writes_a_few_audit_rows_that_still_count_every_one(server: Server) -> None:
    """Item 13: 300 refused joins used to be 300 audit rows; now 2 at once and 1 summary, chain intact."""
    server.use(RedemptionLimiter(max_in_flight=1000))
    server.gate.set()
    agents = await open_agents(server.url, 300)
    await asyncio.gather(*(send(ws, wrong(i)) for i, ws in enumerate(agents)))
    answers = await asyncio.gather(*(answer(ws) for ws in agents))
    assert answers.count("code_unknown") == 5 and answers.count("rate_limited") == 295
    at_once = server.rejections()
    assert sorted(e.details["reason"] for e in at_once) == ["rate_limited", "unknown"]
    await server.hub.write_refusals(everything=True)
    rows = server.rejections()
    assert len(rows) == 3
    summary = rows[-1].details
    assert summary["count"] == 298 and summary["reasons"] == {"rate_limited": 294, "unknown": 4}
    assert all(e.address == "127.0.0.1" for e in rows)
    assert all(wrong(i) not in json.dumps(e.details) for e in rows for i in range(300))  # never a code
    with server.db.session() as s:
        assert walk(s.scalars(select(AuditEvent).order_by(AuditEvent.seq))).ok


async def test_a_join_refused_at_the_door_can_still_send_and_read_its_answer(server: Server) -> None:
    """Over the cap of joins in flight, the client still gets to send its join and read why it was refused."""
    limiter = server.use(RedemptionLimiter(max_in_flight=2))
    server.gate.set()
    held = await open_agents(server.url, 2)  # two connections in flight that say nothing yet
    while await limiter.tracked_groups() == 0:  # noqa: ASYNC110 - the server runs in this loop
        await asyncio.sleep(0.01)
    refused = await open_agents(server.url, 8)
    await server.settle(8)  # all eight refused at the door, answered, and (before the fix) closed
    await asyncio.gather(*(ws.send(join_text(wrong(10 + i))) for i, ws in enumerate(refused)))
    for ws in refused:
        data = json.loads(await ws.recv())
        # its own code, not "rate_limited" (the user read "too many wrong codes, wait 8 seconds")
        assert data["code"] == "too_many_joins" and data["fatal"] is True and data["retry_after"] >= 1
        await ws.close()
    await asyncio.gather(*(ws.send(join_text(wrong(i))) for i, ws in enumerate(held)))
    assert await asyncio.gather(*(answer(ws) for ws in held)) == ["code_unknown", "code_unknown"]
