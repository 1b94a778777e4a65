"""Every Redis command client of a node, built one way (bus, runtime store, liveness, join limiter).

One policy, so that each part of a node meets a Redis outage the same way:

- bounded: connecting and each command give up after their timeout, so a caller waiting on a
  Redis that went away fails (and says so) instead of hanging;
- one immediate retry on a new connection: after a Redis restart every pooled connection is dead
  and the first command on each would fail although Redis is back; the retry reconnects at once.
  Longer outages are the caller's to handle (a refused message, a heartbeat round that warns);
- a client name per purpose, so ``CLIENT LIST`` (and an operator) tells the connections apart.

The bus's pub/sub link (``bus/redis_link.py``) reconnects on its own schedule and does not come
from here.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

#: How long connecting, or one command, may take before it fails.
TIMEOUT_SECONDS = 5.0


def redis_client(
    url: str,
    *,
    purpose: str,
    timeout_seconds: float = TIMEOUT_SECONDS,
    decode_responses: bool = False,
    max_connections: int | None = None,
    queue_seconds: float = 10.0,
) -> aioredis.Redis:
    """A command client for ``purpose`` (its connections are named ``veo-<purpose>``).

    ``max_connections``: at most that many connections, a caller beyond them waits up to
    ``queue_seconds`` for one (a burst of joins); None: a connection per concurrent caller.
    """
    retry = Retry(NoBackoff(), 1)
    name = f"veo-{purpose}"
    if max_connections is None:
        return aioredis.Redis.from_url(
            url,
            decode_responses=decode_responses,
            retry=retry,
            socket_connect_timeout=timeout_seconds,
            socket_timeout=timeout_seconds,
            client_name=name,
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=queue_seconds,
        decode_responses=decode_responses,
        retry=retry,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        client_name=name,
    )
    return aioredis.Redis(connection_pool=pool)
