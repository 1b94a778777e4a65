"""The outbox worker: sends what is due, records each outcome, sleeps, repeats.

It runs as one background task per server process (``veo.tasks.spawn`` from the app's start-up
hooks) and is stopped by a shutdown hook. Each round (``run_once``) claims due rows in a short
transaction, sends them with no transaction open (a slow SMTP server never holds a database
lock), then stores each result in its own transaction. Tests call ``run_once(now=...)`` to
step through retries deterministically instead of waiting.

Every node runs one; they share the outbox through the claim (``outbox.claim_due``). A round
sends its batch one message after another, so a row's lease from the claim may have run out
(and another node may have claimed the row) by the time its send comes. So just before each send
the row is leased again (``outbox.renew``): only while it still holds this round's lease, and
for a full ``LEASE`` from then; a row another node took is skipped. The send itself is bounded
by ``mailer.SEND_DEADLINE_SECONDS`` (an e-mail's whole SMTP exchange, a webhook's request
here), less than the lease: nothing of a message leaves this node after
renewal + 3 minutes, and no other node may claim it before renewal + 5 minutes. The 2 minutes
between are the margin for the nodes' clocks (leases are written with each node's clock; keep
them on NTP, ``veo doctor`` shows the skew).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import anyio
import httpx
from sqlalchemy import event
from sqlalchemy.orm import Session

from veo.config import Settings
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.db.unavailable import log_failure
from veo.server.notify import egress, mailer, outbox, webhooks
from veo.server.notify.compose import compose
from veo.server.notify.models import OutboxMessage, WebhookEndpoint
from veo.tasks import spawn

log = logging.getLogger(__name__)
#: With no SMTP server configured e-mails wait (visibly) and are looked at again this often.
UNCONFIGURED_RECHECK = timedelta(minutes=10)


class OutboxWorker:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.policy = settings.webhook_policy
        self._event_loop: asyncio.AbstractEventLoop | None = None
        #: Measures how long a round has run, to renew each row's lease from the moment its send
        #: starts (``now`` plus the time since the claim); a test replaces it to make a round slow.
        self.clock: Callable[[], float] = time.monotonic

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._client = egress.guarded_client(self.policy)
        self._event_loop = asyncio.get_running_loop()
        event.listen(self.db.sessionmaker, "after_commit", self._after_commit)
        event.listen(self.db.sessionmaker, "after_rollback", self._after_rollback)
        self._task = spawn(self._loop(), name="veo-outbox")

    async def stop(self) -> None:
        if event.contains(self.db.sessionmaker, "after_commit", self._after_commit):
            event.remove(self.db.sessionmaker, "after_commit", self._after_commit)
            event.remove(self.db.sessionmaker, "after_rollback", self._after_rollback)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        """Look for due messages now (after a request queued some) instead of at the next tick."""
        self._wake.set()

    def _after_commit(self, session: Session) -> None:
        """Any transaction that queued a message wakes the worker (it may run on another thread)."""
        if session.info.pop(outbox.QUEUED_FLAG, False) and self._event_loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing: the next start polls anyway
                self._event_loop.call_soon_threadsafe(self._wake.set)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(outbox.QUEUED_FLAG, None)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # a database hiccup must not end the worker for good
                log_failure(log, "outbox round", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.outbox_poll_seconds)
            self._wake.clear()

    # ------------------------------------------------------------ one round

    async def run_once(self, now: datetime | None = None) -> int:
        """Attempt every message due at ``now``; how many were attempted."""
        moment = now or utcnow()
        claimed = await self.db.run(lambda s: outbox.claim_due(s, moment))
        claimed_at = self.clock()
        attempted = 0
        for message in claimed:
            started = moment + timedelta(seconds=self.clock() - claimed_at)
            if not await self._renew(message, started):
                log.info("outbox %d: its lease ran out and another node took it; not sent here", message.id)
                continue
            await self._attempt(message, moment)
            attempted += 1
        return attempted

    async def _renew(self, message: OutboxMessage, started: datetime) -> bool:
        """Lease ``message`` again from ``started``; False when it is no longer this round's."""
        message_id, held_until = message.id, message.next_attempt_at
        renewed = await self.db.run(lambda s: outbox.renew(s, message_id, held_until, started))
        return renewed is not None

    async def _attempt(self, message: OutboxMessage, now: datetime) -> None:
        message_id = message.id
        if message.kind == "email" and not self.settings.smtp_host:
            reason = "e-mail is not configured (set VEO_SMTP_HOST)"
            await self.db.run(lambda s: outbox.mark_waiting(s, message_id, now, reason, UNCONFIGURED_RECHECK))
            return
        try:
            if message.kind == "email":
                mail = compose(self.settings, message.payload)
                await mailer.send(
                    self.settings, message.recipient, mail.as_payload(), outbox.delivery_key(message)
                )
            else:
                try:  # the e-mail's deadline is in the mailer (its SMTP exchange runs on a thread)
                    with anyio.fail_after(mailer.SEND_DEADLINE_SECONDS):
                        await self._deliver_webhook(message)
                except TimeoutError:
                    raise mailer.DeliveryError(mailer.TOO_SLOW) from None
        except mailer.DeliveryError as exc:
            error, permanent = exc.message, exc.permanent
            log.warning("outbox %d (%s to %s) failed: %s", message_id, message.kind, message.recipient, error)
            await self.db.run(lambda s: outbox.mark_failed(s, message_id, now, error, permanent=permanent))
            return
        except Exception as exc:  # a bug in rendering: keep the row, show the error, retry later
            log.exception("outbox %d could not be prepared", message_id)
            error = f"internal error: {type(exc).__name__}"
            await self.db.run(lambda s: outbox.mark_failed(s, message_id, now, error, permanent=False))
            return
        log.info("outbox %d (%s %s) delivered", message_id, message.kind, message.event)
        await self.db.run(lambda s: outbox.mark_sent(s, message_id, now))

    async def _deliver_webhook(self, message: OutboxMessage) -> None:
        webhook_id = message.webhook_id
        endpoint = await self.db.run(lambda s: s.get(WebhookEndpoint, webhook_id) if webhook_id else None)
        if endpoint is None:
            raise mailer.DeliveryError("the webhook endpoint was removed", permanent=True)
        client = self._client or egress.guarded_client(self.policy)
        try:
            await webhooks.deliver(
                client,
                endpoint.url,
                endpoint.secret,
                message.event,
                str(message.payload["body"]),
                message.id,
                self.policy,
                outbox.delivery_key(message),
            )
        finally:
            if client is not self._client:
                await client.aclose()
