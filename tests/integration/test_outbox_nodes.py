"""The outbox with three nodes on one PostgreSQL database: each message delivered once, none lost.

Three workers, each with its own engine (as three ``veo server`` processes would have), drain one
outbox of 50 e-mails and 50 webhooks into a real SMTP server and a real HTTP receiver on loopback.
Every message must arrive exactly once (by its ``Message-ID`` / ``Idempotency-Key``). Then a node
that dies after claiming a message, and one that dies after sending but before recording it:
another node delivers after the lease, and the receiver can tell the duplicate by its key.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.integration.notify_support import Inbox, free_port, smtp_server, webhook_receiver
from tests.support import app_settings, make_user

from veo.config import Settings
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.notify import egress, mailer, outbox, webhooks
from veo.server.notify.models import OutboxMessage
from veo.server.notify.worker import OutboxWorker
from veo.server.tickets import service as tickets

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
MESSAGES = 50
NODES = 3


@dataclass
class Receiver:
    """A helpdesk stand-in on loopback: the ``Idempotency-Key`` of every POST it got."""

    url: str = ""
    keys: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    def answer(headers: dict[str, str], body: bytes) -> int:
        with state.lock:
            state.keys.append(headers.get("idempotency-key", ""))
        return 204

    with webhook_receiver(answer) as state.url:
        yield state


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    port = free_port()
    with smtp_server(port) as received:
        yield received, port


@pytest.fixture
def settings(database_url: str, tmp_path: Path, inbox: tuple[Inbox, int]) -> Settings:
    return app_settings(
        database_url, tmp_path, smtp_host="127.0.0.1", smtp_port=inbox[1], webhook_allow="127.0.0.1"
    )


@pytest.fixture
def nodes(settings: Settings) -> Iterator[list[OutboxWorker]]:
    """One worker per node, each on its own engine (its own connection pool)."""
    workers = [OutboxWorker(Database(settings.effective_database_url), settings) for _ in range(NODES)]
    try:
        yield workers
    finally:
        for worker in workers:
            worker.db.dispose()


def _queue_tickets(settings: Settings, receiver: Receiver, count: int) -> None:
    """``count`` new tickets: each queues one e-mail to its requester and one webhook."""
    db = Database(settings.effective_database_url)
    try:
        creator = make_user(db, "creator@example.org").user
        with db.session() as s:
            webhooks.create_endpoint(
                s, {"url": receiver.url, "events": ["ticket.created"]}, settings.webhook_policy
            )
        for number in range(count):
            with db.session() as s:
                body = {
                    "title": f"Request {number}",
                    "requester_name": "Bob",
                    "requester_email": f"bob{number}@example.org",
                }
                tickets.create_ticket(s, body, creator=s.merge(creator))
    finally:
        db.dispose()


def _outbox(settings: Settings) -> list[OutboxMessage]:
    db = Database(settings.effective_database_url)
    try:
        with db.session() as s:
            return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    finally:
        db.dispose()


async def _drain(worker: OutboxWorker) -> int:
    attempted = 0
    while sent := await worker.run_once():
        attempted += sent
    return attempted


def _message_ids(inbox: Inbox) -> Counter[str]:
    return Counter(str(message["Message-ID"]) for _envelope, message in inbox.messages)


@ON_POSTGRESQL
async def test_three_nodes_deliver_every_message_exactly_once(
    settings: Settings, nodes: list[OutboxWorker], inbox: tuple[Inbox, int], receiver: Receiver
) -> None:
    _queue_tickets(settings, receiver, MESSAGES)
    queued = _outbox(settings)
    assert Counter(m.kind for m in queued) == {"email": MESSAGES, "webhook": MESSAGES}

    per_node = await asyncio.gather(*(_drain(worker) for worker in nodes))
    print(f"messages attempted per node: {per_node}")

    assert sum(per_node) == 2 * MESSAGES  # no row attempted twice
    emails = [m for m in queued if m.kind == "email"]
    hooks = [m for m in queued if m.kind == "webhook"]
    assert _message_ids(inbox[0]) == Counter(
        {mailer.message_id_for(settings, outbox.delivery_key(m)): 1 for m in emails}
    )
    assert Counter(receiver.keys) == Counter({outbox.delivery_key(m): 1 for m in hooks})
    after = _outbox(settings)
    assert {(m.status, m.attempts) for m in after} == {("sent", 1)}


@ON_POSTGRESQL
async def test_a_node_that_dies_after_claiming_leaves_the_message_to_another_after_the_lease(
    settings: Settings, nodes: list[OutboxWorker], inbox: tuple[Inbox, int], receiver: Receiver
) -> None:
    _queue_tickets(settings, receiver, 1)
    dying, survivor = nodes[0], nodes[1]
    start = utcnow()
    claimed = await dying.db.run(lambda s: outbox.claim_due(s, start))
    assert {m.kind for m in claimed} == {"email", "webhook"}
    # The dying node sends the webhook, then dies before recording it; the e-mail it never sends.
    hook = next(m for m in claimed if m.kind == "webhook")
    async with egress.guarded_client(settings.webhook_policy) as client:
        await webhooks.deliver(
            client, hook.recipient, _secret(settings), hook.event, str(hook.payload["body"]), hook.id,
            settings.webhook_policy, outbox.delivery_key(hook),
        )  # fmt: skip

    assert await survivor.run_once(now=start + timedelta(seconds=1)) == 0  # still leased
    assert await survivor.run_once(now=start + outbox.LEASE + timedelta(seconds=1)) == 2

    email = next(m for m in claimed if m.kind == "email")
    assert _message_ids(inbox[0]) == Counter({mailer.message_id_for(settings, outbox.delivery_key(email)): 1})
    # the duplicate carries the same key
    assert Counter(receiver.keys) == Counter({outbox.delivery_key(hook): 2})
    after = _outbox(settings)
    assert {(m.id, m.status, m.attempts) for m in after} == {(email.id, "sent", 1), (hook.id, "sent", 1)}
    assert all(m.sent_at is not None for m in after)


def _secret(settings: Settings) -> str:
    db = Database(settings.effective_database_url)
    try:
        with db.session() as s:
            (endpoint,) = webhooks.list_endpoints(s)
            return endpoint.secret
    finally:
        db.dispose()


@ON_POSTGRESQL
async def test_a_slow_round_does_not_send_a_row_another_node_took_after_its_lease(
    settings: Settings,
    nodes: list[OutboxWorker],
    inbox: tuple[Inbox, int],
    receiver: Receiver,
) -> None:
    """A slow batch (SMTP timeouts) must not send rows whose lease ran out and another node took.

    The slow node claims all four rows and sends the first; then, as if that send had been slow,
    its lease runs out and the other node claims and sends the other three. Each row is leased
    again just before its send, which fails for those three: the slow node skips them.
    """
    _queue_tickets(settings, receiver, 2)
    slow, other = nodes[0], nodes[1]
    start = utcnow()
    slow.clock = iter([0.0, 1.0, outbox.LEASE.total_seconds() + 2.0, 400.0, 401.0]).__next__
    attempt = slow._attempt
    taken: list[int] = []

    async def send_slowly(message: OutboxMessage, now: datetime) -> None:
        await attempt(message, now)
        if not taken:  # meanwhile the lease ran out, and the other node's round came
            taken.append(await other.run_once(now=start + outbox.LEASE + timedelta(seconds=1)))

    slow._attempt = send_slowly  # type: ignore[method-assign]

    assert await slow.run_once(now=start) == 1  # four claimed, one sent, three taken from it
    assert taken == [3]
    assert sum(_message_ids(inbox[0]).values()) + len(receiver.keys) == 4
    assert max(_message_ids(inbox[0]).values()) == 1 and len(set(receiver.keys)) == len(receiver.keys)
    assert {(m.status, m.attempts) for m in _outbox(settings)} == {("sent", 1)}


@ON_POSTGRESQL
async def test_each_send_starts_with_a_full_lease_renewed_from_its_own_start(
    settings: Settings, nodes: list[OutboxWorker], inbox: tuple[Inbox, int], receiver: Receiver
) -> None:
    """A row nobody else took is still sent late in a slow round, leased again from that moment:
    another node looking just after the claim's lease ran out finds nothing to claim."""
    _queue_tickets(settings, receiver, 1)
    slow, other = nodes[0], nodes[1]
    start = utcnow()
    late = outbox.LEASE.total_seconds() - 1.0  # the second send starts 1 s before the claim's lease ends
    slow.clock = iter([0.0, 0.0, late]).__next__
    attempt = slow._attempt
    seen: list[int] = []

    async def look_from_another_node(message: OutboxMessage, now: datetime) -> None:
        if len(seen) == 1:  # the second send is under way: 2 s later, the claim's lease is over
            seen.append(await other.run_once(now=start + outbox.LEASE + timedelta(seconds=1)))
        else:
            seen.append(0)
        await attempt(message, now)

    slow._attempt = look_from_another_node  # type: ignore[method-assign]

    assert await slow.run_once(now=start) == 2
    assert seen == [0, 0]  # the other node found the row leased again, not due
    assert sum(_message_ids(inbox[0]).values()) + len(receiver.keys) == 2
    assert {(m.status, m.attempts) for m in _outbox(settings)} == {("sent", 1)}
