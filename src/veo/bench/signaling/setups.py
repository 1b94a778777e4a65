"""Session set-up latency: from the technician's API call to the user's consent at the console.

One set-up is what happens before any pixel flows, each step a real protocol message through
the server: the technician creates the session (``POST /api/v1/tickets/{id}/sessions``) and opens
the console; the agent joins with the code (``joined``); the console hears ``agent_joined``; the
agent's ``offer`` (with its SAS commitment) reaches the console; the console's ``answer`` reaches
the agent; the agent's ``reveal`` reaches the console, which checks it against the commitment;
the agent's ``consent`` reaches the console. The clock stops there; the agent then hangs up.

``count`` set-ups start together (a barrier), each with its own agent address. With two nodes the
session is created and the agent joins on one node, and the console is opened on the other: the
case a load balancer without stickiness makes.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass, field

import httpx

from veo.bench.signaling import peers
from veo.bench.signaling.nodes import Node
from veo.protocol import sas
from veo.tasks import spawn

#: The phases, in order, each timed from the previous one's end (milliseconds).
PHASES = ("create", "join", "offer", "answer", "reveal", "consent")


@dataclass
class SetupResult:
    total_ms: float | None = None
    phases_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass
class SetupFigures:
    nodes: int
    count: int
    ok: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    #: median of each phase over the set-ups that got that far
    phase_p50_ms: dict[str, float]
    #: distinct failures and how many set-ups ended with each
    errors: dict[str, int]
    cross_node: bool


async def one_setup(
    client: httpx.AsyncClient,
    agent_node: Node,
    console_node: Node,
    ticket_id: int,
    cookie: str,
    index: int,
    start: asyncio.Event,
) -> SetupResult:
    result = SetupResult()
    await start.wait()
    began = mark = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        result.phases_ms[phase] = (now - mark) * 1000
        mark = now

    try:
        response = await client.post(f"{agent_node.http}/api/v1/tickets/{ticket_id}/sessions", json={})
        if response.status_code != 201:
            raise peers.PeerError(f"create answered {response.status_code}")
        created = response.json()
        lap("create")
        async with (
            await peers.open_console(console_node.ws, created["id"], cookie) as console,
            await peers.open_agent(agent_node.ws, index) as agent,
        ):
            await peers.expect(console, "session_state")
            await peers.send(agent, peers.join(created["code"]))
            joined = await peers.expect(agent, "joined")
            await peers.expect(console, "agent_joined")
            lap("join")
            nonce_a = sas.new_nonce()
            await peers.send(agent, peers.offer(sas.commitment(nonce_a)))
            offered = await peers.expect(console, "offer")
            lap("offer")
            await peers.send(console, peers.answer(sas.new_nonce().hex()))
            await peers.expect(agent, "answer")
            lap("answer")
            await peers.send(agent, peers.reveal(nonce_a.hex()))
            revealed = await peers.expect(console, "reveal")
            if not sas.check_commitment(bytes.fromhex(revealed["nonce"]), offered["commitment"]):
                raise peers.PeerError("the revealed nonce does not match the commitment")
            lap("reveal")
            await peers.send(agent, peers.consent(joined["requested"]))
            await peers.expect(console, "consent")
            lap("consent")
            result.total_ms = (time.perf_counter() - began) * 1000
            with contextlib.suppress(Exception):
                await peers.send(agent, peers.hangup())
                await peers.expect(agent, "ended")
    except Exception as exc:  # a failed set-up is a figure too: counted by its reason
        result.error = f"{type(exc).__name__}: {exc}"[:160]
    return result


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (``values`` need not be sorted)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarize(results: list[SetupResult], nodes: int, cross_node: bool) -> SetupFigures:
    totals = [r.total_ms for r in results if r.total_ms is not None]
    errors: dict[str, int] = {}
    for r in results:
        if r.error is not None:
            errors[r.error] = errors.get(r.error, 0) + 1
    phases = {
        phase: round(statistics.median(got), 1)
        for phase in PHASES
        if (got := [r.phases_ms[phase] for r in results if phase in r.phases_ms])
    }
    return SetupFigures(
        nodes=nodes,
        count=len(results),
        ok=len(totals),
        p50_ms=round(statistics.median(totals), 1) if totals else None,
        p95_ms=round(percentile(totals, 0.95), 1) if totals else None,
        max_ms=round(max(totals), 1) if totals else None,
        phase_p50_ms=phases,
        errors=errors,
        cross_node=cross_node,
    )


async def run_setups(
    nodes: list[Node], ticket_id: int, bearer: str, cookie: str, count: int, first_index: int
) -> SetupFigures:
    """``count`` set-ups at once; with two nodes the console is always on the other node."""
    agent_node = nodes[0]
    console_node = nodes[-1]
    start = asyncio.Event()
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    headers = {"Authorization": f"Bearer {bearer}"}
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=peers.STEP_SECONDS) as client:
        tasks = [
            spawn(one_setup(client, agent_node, console_node, ticket_id, cookie, first_index + i, start))
            for i in range(count)
        ]
        await asyncio.sleep(0)
        start.set()
        results = await asyncio.gather(*tasks)
    return summarize(results, len(nodes), cross_node=agent_node is not console_node)
