"""How many refused authentications an address group may have on ``/ws/device`` (review R1-17).

``/ws/device`` is public and unauthenticated until a device proves its key: without a limit one
client could hold thousands of sockets open for their challenge's 10 s, or loop hellos naming
random ids to drive a database read each at line rate. The limiter is the joins' and the
enrolment's (:class:`~veo.server.sessions.ratelimit.RedemptionLimiter`, on Redis with
``VEO_REDIS_URL`` under ``veo:devauth:`` so every node counts together):

- a socket takes a place of its address group (IPv4 address, IPv6 /64) while it authenticates,
  at most :data:`MAX_IN_FLIGHT` at once, and gives it back as soon as it is welcomed or refused
  (a connected device holds no place);
- every hello is counted as a failure BEFORE its device is looked up, and forgiven when the
  device proves its key: only refused authentications count, so a company NAT with hundreds of
  devices that authenticate correctly is never held back by its own devices;
- past :data:`MAX_FAILURES` in :data:`WINDOW_SECONDS` (fewer while the whole server sees a
  flood), the socket is closed with 1013 (try again later) without reading the database; the
  device service treats that as any failed connection and tries again after its backoff.

The price: while one address group is over its limit (a cloned disk image, a device whose key
the server does not know, an attacker behind the same NAT), the correct devices of that group
that reconnect meanwhile wait too, until failures age out of the window.
"""

from __future__ import annotations

from typing import Any

from veo.config import Settings
from veo.server.sessions.ratelimit import RedemptionLimiter

#: Refused authentications an address group may have per window.
MAX_FAILURES = 20
WINDOW_SECONDS = 600.0
#: Authentications of one address group in progress at once: caps the idle sockets one client
#: holds open for their challenge, yet leaves room for a company NAT whose devices all come back
#: at once after a server restart (an answer takes one round trip; one refused here retries
#: after its backoff).
MAX_IN_FLIGHT = 200


def create_auth_limiter(settings: Settings | None, **overrides: Any) -> RedemptionLimiter:
    """Redis (keys ``veo:devauth:...``) when ``VEO_REDIS_URL`` is set, else this node's memory;
    ``overrides``: :class:`RedemptionLimiter` keywords (tests take smaller limits)."""
    failures = int(overrides.pop("max_failures", MAX_FAILURES))
    rules: dict[str, Any] = {
        "max_failures": failures,
        "window_seconds": WINDOW_SECONDS,
        # an IPv6 /48 (a site's many /64s) may fail what four groups may
        "prefix_max_failures": 4 * failures,
        "prefix_flood_max_failures": min(10, 4 * failures),
        # the whole server refusing 2000 hellos in a window: every group gets fewer tries
        "flood_failures": 2000,
        "flood_max_failures": min(5, failures),
        # no waiting before a lookup: a device's answer is checked at once or refused
        "base_delay": 0.0,
        "max_delay": 0.0,
        "max_in_flight": MAX_IN_FLIGHT,
        "slot_lease_seconds": 60.0,
    } | overrides
    if settings is None or not settings.redis_url:
        return RedemptionLimiter(**rules)
    from veo.server.sessions.ratelimit_redis import RedisStore

    store = RedisStore.from_url(settings.redis_url, prefix="veo:devauth:")
    return RedemptionLimiter(store=store, **rules)
