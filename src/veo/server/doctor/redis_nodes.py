"""Redis reachable, the nodes that announce themselves there, and how far their clocks are apart.

Each ``veo server`` node keeps a heartbeat key ``veo:node:<id>`` holding JSON
``{"node", "host", "pid", "version", "started", "time"}`` (unix seconds), written with a TTL of
:data:`~veo.server.sessions.liveness.HEARTBEAT_TTL_SECONDS` and refreshed every few seconds
(``sessions/liveness.py`` writes them). A node's clock is compared with
Redis' own (``TIME``) at the moment it wrote: the key's remaining TTL says how long ago, in
Redis' clock, that was, so the comparison does not depend on when the doctor looks. Clocks that
disagree by seconds break what several nodes share: code and credential expiry, lockouts, the
order of audit entries. This host's clock is compared with Redis' too (half the round trip
allowed for).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from veo.server.doctor.report import Finding, fail, info, ok, warn
from veo.server.lang import _, ngettext
from veo.server.sessions.liveness import HEARTBEAT_TTL_SECONDS

CHECK = "redis"
#: Above this, two clocks disagree enough to matter (NTP keeps them within milliseconds).
MAX_SKEW_SECONDS = 2.0
TIMEOUT_SECONDS = 3.0
MAX_NODES = 1000


@dataclass(frozen=True)
class Node:
    node: str
    host: str
    version: str
    #: this node's clock minus Redis' when it wrote its heartbeat
    skew: float


def _shown(url: str) -> str:
    """The Redis URL without its password."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _at, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ':'}***@{host}"


async def check(redis_url: str | None, prefix: str = "veo:") -> list[Finding]:
    if not redis_url:
        return [
            info(
                CHECK,
                _("VEO_REDIS_URL is not set: this node works alone (in-process bus)."),
                _("several nodes need one Redis: set VEO_REDIS_URL on every node."),
            )
        ]
    try:
        client = aioredis.from_url(
            redis_url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
        )
    except ValueError as exc:
        return [
            fail(
                CHECK,
                _("VEO_REDIS_URL cannot be used: %(error)s") % {"error": exc},
                _("correct VEO_REDIS_URL (for example redis://:password@redis.example.org:6379/0)."),
            )
        ]
    try:
        sent = time.time()
        seconds, micros = await client.time()
        received = time.time()
        redis_now = seconds + micros / 1e6
        nodes = await _nodes(client, prefix, redis_now)
    except (RedisError, OSError) as exc:
        return [
            fail(
                CHECK,
                _("cannot reach Redis at %(url)s: %(error)s")
                % {"url": _shown(redis_url), "error": str(exc)[:300]},
                _(
                    "check that Redis runs, that this host may reach it, and VEO_REDIS_URL (host, "
                    "port, password)."
                ),
            )
        ]
    finally:
        await client.aclose()
    local_skew = (sent + received) / 2 - redis_now
    return [
        ok(CHECK, _("reachable at %(url)s.") % {"url": _shown(redis_url)}),
        _local_clock(local_skew, received - sent),
        *_node_findings(nodes),
    ]


async def _nodes(client: aioredis.Redis, prefix: str, redis_now: float) -> list[Node]:
    found: list[Node] = []
    async for key in client.scan_iter(match=f"{prefix}node:*", count=100):
        raw = await client.get(key)
        remaining_ms = await client.pttl(key)
        if raw is None:
            continue  # expired between the scan and the read
        try:
            beat = json.loads(raw)
            node_time = float(beat["time"])
            node = Node(str(beat["node"]), str(beat.get("host", "?")), str(beat.get("version", "?")), 0.0)
        except (ValueError, KeyError, TypeError):
            node = Node(key.decode(errors="replace").removeprefix(f"{prefix}node:"), "?", "?", float("nan"))
            found.append(node)
            continue
        # the TTL says how long ago (in Redis' clock) it was written; without one, compare with now
        age = HEARTBEAT_TTL_SECONDS - remaining_ms / 1000 if remaining_ms > 0 else 0.0
        written = redis_now - age
        found.append(Node(node.node, node.host, node.version, node_time - written))
        if len(found) >= MAX_NODES:
            break
    return sorted(found, key=lambda n: (n.host, n.node))


def _local_clock(skew: float, round_trip: float) -> Finding:
    if abs(skew) - round_trip / 2 > MAX_SKEW_SECONDS:
        return warn(
            "clock",
            _("this host's clock is %(skew).1f s off Redis' clock.") % {"skew": skew},
            _("run NTP (systemd-timesyncd or chrony) on every host: veo's nodes share expiry times."),
        )
    return ok("clock", _("this host's clock agrees with Redis' (%(skew)+.2f s).") % {"skew": skew})


def _node_findings(nodes: list[Node]) -> list[Finding]:
    if not nodes:
        return [
            warn(
                "nodes",
                _("no veo node has announced itself in this Redis."),
                _("start the nodes, and check that they have this VEO_REDIS_URL."),
            )
        ]
    listed = ", ".join(f"{n.node} ({n.host}, veo {n.version})" for n in nodes)
    findings = [
        ok(
            "nodes",
            ngettext("%(count)d node running: %(nodes)s.", "%(count)d nodes running: %(nodes)s.", len(nodes))
            % {"count": len(nodes), "nodes": listed},
        )
    ]
    versions = sorted({n.version for n in nodes})
    if len(versions) > 1:
        findings.append(
            info(
                "versions",
                _("the nodes run different veo versions: %(versions)s.") % {"versions": ", ".join(versions)},
                _("expected only while you upgrade node by node; finish the upgrade."),
            )
        )
    for node in nodes:
        if node.skew != node.skew:  # NaN: unreadable heartbeat
            findings.append(
                warn(
                    f"node {node.node}",
                    _("its heartbeat cannot be read."),
                    _("run the same veo version on every node."),
                )
            )
        elif abs(node.skew) > MAX_SKEW_SECONDS:
            findings.append(
                warn(
                    f"node {node.node}",
                    _("the clock of %(host)s is %(skew).1f s off Redis' clock.")
                    % {"host": node.host, "skew": node.skew},
                    _("run NTP (systemd-timesyncd or chrony) on every host: veo's nodes share expiry times."),
                )
            )
    if not any(f.needs_action for f in findings[1:]):
        findings.append(
            ok(
                "node clocks",
                _("every node's clock is within %(max).0f s of Redis'.") % {"max": MAX_SKEW_SECONDS},
            )
        )
    return findings
