"""veo on three nodes behind HAProxy survives the faults operators meet (issue 16, point 3).

The real parts: three ``veo server`` nodes on one PostgreSQL database and one Redis, HAProxy with
``deploy/haproxy/haproxy.cfg`` (round robin, no stickiness), ``veo agent`` on the Xvfb display with
the demo app, and the console in headless Chromium, all in the test namespace (``cluster.py``).
Where each peer lands is forced through HAProxy's runtime API (the other nodes drained while that
peer connects) and checked in the nodes' logs: the agent on node 1, the console on node 2, so the
session's messages must cross nodes.

Cases: the session runs end to end across nodes; the node holding the agent's socket, then the
one holding the console's, is SIGKILLed mid-session (the peer reconnects through the proxy to a
live node, the picture keeps changing in the console meanwhile, a click lands after, the
technician's *End session* reaches the agent); Redis is killed (-9, without persistence) and
started again mid-session (every node's /readyz says so and recovers, the session goes on, no
session, ticket or audit row is lost). Every case ends with ``veo audit verify`` on the shared
database. Run with ``-s`` to see the measured times.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from tests.e2e.procs import wait_for

from .case import (
    AGENT_REJOINED,
    AGENT_SOCKET,
    RECONNECT_TIMEOUT,
    WATCH_SECONDS,
    MultiNodeCase,
    Picture,
    assert_none_lost,
    rows,
)
from .cluster import Cluster, SharedDatabase
from .redis_server import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# ---------------------------------------------------------------------------------- the cases


def test_agent_on_node1_console_on_node2_session_runs_end_to_end(across: Callable[[], MultiNodeCase]) -> None:
    case = across()
    case.click_lands()
    case.console.click_screen(*case.live.app.widget("entry").center)
    case.console.type_text("hola")
    case.live.app.wait_state("the console's typing to reach the field", lambda s: s.text == "hola")
    case.end_by_technician()
    case.audit_verifies()


@pytest.mark.parametrize("peer", ["agent", "console"])
def test_killing_the_node_holding_a_peer_mid_session(across: Callable[[], MultiNodeCase], peer: str) -> None:
    case = across()
    case.click_lands()
    victim = case.agent_node if peer == "agent" else case.console_node
    path = AGENT_SOCKET if peer == "agent" else case.console_socket
    before = case.sockets(path)
    rejoins = case.live.agent.log.count(AGENT_REJOINED)
    lines_before = len(case.live.agent.log.lines())
    case.start_watching()

    proxy_lines = len(case.cluster.proxy.log_lines())
    killed_at = time.time()
    victim.kill()
    # before HAProxy's checks can notice (2 failures a second apart), a request that round robin
    # gives to the dead node is refused there and retried on another: none fails
    statuses = [case.cluster.api("GET", "/healthz").status_code for _ in range(2 * len(case.cluster.nodes))]
    assert statuses == [200] * len(statuses), statuses
    redispatched = case.cluster.proxy.redispatched("GET /healthz", since=proxy_lines)

    def reopened_elsewhere() -> str | None:
        now = case.sockets(path)
        return next((name for name in now if name != victim.name and now[name] > before[name]), None)

    landed = wait_for(
        f"the {peer} to open its socket on another node", reopened_elsewhere, RECONNECT_TIMEOUT, case.logs
    )
    if peer == "agent":
        wait_for(
            "the agent to log that signaling is back",
            lambda: case.live.agent.log.count(AGENT_REJOINED) > rejoins,
            RECONNECT_TIMEOUT,
            case.logs,
        )
    back_after = time.time() - killed_at
    time.sleep(max(0.0, killed_at + max(WATCH_SECONDS, back_after + 1.0) - time.time()))
    picture = Picture.between(case.stop_watching(), killed_at, time.time())

    # the media never stopped: the picture kept changing while the peer's node was gone
    case.session_went_on(picture, lines_before)
    # the killed node starts again: a node that starts ends nobody's session (liveness, not orphans)
    victim.start(case.logs)
    case.cluster.proxy.wait_up({n.name for n in case.cluster.nodes}, case.logs)
    case.click_lands()
    assert case.record()["status"] == "active"
    assert not case.actions("session.ended")
    case.end_by_technician()
    case.audit_verifies()
    print(
        f"\nmultinode/kill the {peer}'s node ({victim.name}): {redispatched} /healthz calls retried on "
        f"another node; back on {landed} {back_after:.1f} s after "
        f"SIGKILL; meanwhile {picture.frames} frames decoded, "
        f"the picture still for {picture.longest_still:.2f} s at most"
    )


def test_redis_restarted_mid_session(
    across: Callable[[], MultiNodeCase], redis_server: RedisServer, cluster: Cluster, database: SharedDatabase
) -> None:
    case = across()
    case.click_lands()
    rows_before = rows(database.test_url)
    lines_before = len(case.live.agent.log.lines())
    case.start_watching()

    killed_at = time.time()
    redis_server.kill()
    wait_for(
        "every node's /readyz to say it is not ready",
        lambda: not any(node.ready() for node in cluster.nodes),
        20,
        case.logs,
    )
    # every node fails its check: HAProxy falls back to all of them, and the node answers for
    # itself through the proxy, in JSON, rather than HAProxy's bare 503 page
    cluster.proxy.wait_up(set(), case.logs)
    through_proxy = cluster.api("GET", "/readyz")
    assert through_proxy.status_code == 503, through_proxy.text
    assert through_proxy.json()["failed"] == ["bus"], through_proxy.text
    time.sleep(1.0)
    redis_server.start(case.logs)
    ready_after = case.ready_again()
    picture = Picture.between(case.stop_watching(), killed_at, time.time())

    case.session_went_on(picture, lines_before)
    assert_none_lost(rows_before, rows(database.test_url))
    case.end_by_technician()
    case.audit_verifies()
    print(
        f"\nmultinode/redis restarted: every node ready {ready_after:.1f} s after Redis came back; "
        f"meanwhile {picture.frames} frames decoded, "
        f"the picture still for {picture.longest_still:.2f} s at most"
    )


def test_a_session_starts_right_after_redis_restarted(
    across: Callable[[], MultiNodeCase], redis_server: RedisServer, cluster: Cluster
) -> None:
    """Redis restarted between two sessions: the next user's code is accepted at once. The first
    session leaves each node's pooled connections to Redis open; after the restart they are dead,
    and a client must reconnect rather than refuse the join."""
    first = across()
    first.end_by_technician()
    redis_server.kill()
    wait_for("every node to notice", lambda: not any(n.ready() for n in cluster.nodes), 20)
    redis_server.start()
    wait_for("every node's /readyz to recover", lambda: all(n.ready() for n in cluster.nodes), 30)
    cluster.proxy.wait_up({n.name for n in cluster.nodes})
    case = across()
    case.click_lands()
    case.end_by_technician()
    case.audit_verifies()


def test_end_while_redis_is_down_is_not_silently_dropped(
    across: Callable[[], MultiNodeCase], redis_server: RedisServer, cluster: Cluster
) -> None:
    """The technician's *End session* (console on node 2) while Redis is gone cannot cross to node 1,
    which holds the agent's socket. It must not vanish: either it is kept and the agent is told once
    Redis is back, or the console says at once that it was refused (``#error-banner``) and the
    technician's second *End session*, after Redis is back, reaches the agent."""
    case = across()
    case.click_lands()
    redis_server.kill()
    wait_for(
        "every node's /readyz to say it is not ready",
        lambda: not any(node.ready() for node in cluster.nodes),
        20,
        case.logs,
    )
    case.console.page.click("#end-session")
    time.sleep(2.0)  # the gap: the end cannot cross from node 2 to node 1 now
    refusal = (case.console.page.text_content("#error-banner") or "").strip()
    redis_server.start(case.logs)
    back_at = time.monotonic()
    if refusal and case.live.agent.log.ended() is None:
        wait_for("every node to be ready", lambda: all(n.ready() for n in cluster.nodes), 30, case.logs)
        case.console.page.click("#end-session")
    ended = wait_for("the agent to log the end", case.live.agent.log.ended, RECONNECT_TIMEOUT, case.logs)
    told = time.monotonic() - back_at
    assert ended[0] == "technician", ended
    case.console.wait_conn_state("ended", timeout=RECONNECT_TIMEOUT)
    record = case.record()
    assert (record["status"], record["ended_by"]) == ("ended", "technician"), record
    assert len(case.actions("session.ended")) == 1, case.actions("session.ended")
    case.audit_verifies()
    how = f"refused at once ({refusal!r}), ended again after" if refusal else "kept"
    print(
        f"\nmultinode/End while Redis was down: {how}; the agent was told {told:.1f} s after Redis came back"
    )
