"""``veo bench signaling [--agents 1000] [--setups 100] [--devices 500] [--duration 30]
[--nodes 1 --nodes 2] [--json PATH]``: the command line, and one scenario from start to stop.

Per scenario (a node count): a new data directory and database, the sessions issued
(``world.py``), the nodes started (``nodes.py``), one warm-up set-up, the timed set-ups
(``setups.py``) on otherwise quiet nodes, then the idle agents (``idle.py``); the nodes are
stopped and the database dropped. Then the managed devices, on their own: another new data
directory and database with the devices enrolled (``devices.py``) and sessions for the agents
joined beside them, fresh nodes, the idle devices (``device_idle.py``), all stopped and dropped
before the next scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from veo.bench.databases import DEFAULT_POSTGRES
from veo.bench.signaling import devices, procfs
from veo.bench.signaling.device_idle import WARM_UP, measure_devices
from veo.bench.signaling.idle import SETTLE_SECONDS, holding
from veo.bench.signaling.nodes import Cluster, NodeError, cluster, database_for, forget_sessions
from veo.bench.signaling.report import IdleFigures, Scenario, table
from veo.bench.signaling.setups import run_setups
from veo.bench.signaling.world import World, prepare
from veo.server.origins import origin_of

#: A Redis database index of the bench's own on the shared server (no key prefix setting yet).
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
MAX_AGENTS = 20_000
MAX_DEVICES = 5_000
MAX_SETUPS = 1_000
MAX_DURATION = 600
#: Seconds the nodes rest after the set-ups before the baseline memory is read.
REST_SECONDS = 3.0


@dataclass(frozen=True)
class Plan:
    agents: int
    setups: int
    devices: int
    duration: float
    compression: bool
    #: the single node's database: ``sqlite`` (its default) or ``postgresql``
    single_database: str
    postgres_url: str
    redis_url: str


def _bounded(maximum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 0 <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be between 0 and {maximum}")
        return value

    return parse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], _: Callable[[str], str]) -> None:
    bench = sub.add_parser(
        "signaling",
        help=_("measure idle agent connections and session set-up latency on one and two server nodes"),
        description=_(
            "Start veo server nodes on loopback, hold many idle agent connections and time concurrent "
            "session set-ups with simulated peers that speak the real protocol (no media)."
        ),
    )
    bench.add_argument(
        "--agents",
        type=_bounded(MAX_AGENTS),
        default=1000,
        help=_("idle agents to connect (default: %(default)s)"),
    )
    bench.add_argument(
        "--setups",
        type=_bounded(MAX_SETUPS),
        default=100,
        help=_("concurrent session set-ups (default: %(default)s)"),
    )
    bench.add_argument(
        "--devices",
        type=_bounded(MAX_DEVICES),
        default=500,
        help=_("idle managed devices to connect on fresh nodes, 0 to skip (default: %(default)s)"),
    )
    bench.add_argument(
        "--duration",
        type=_bounded(MAX_DURATION),
        default=30,
        help=_("seconds of idling over which the nodes' CPU is measured (default: %(default)s)"),
    )
    bench.add_argument(
        "--nodes",
        type=int,
        choices=(1, 2),
        action="append",
        help=_("node count to measure (repeatable; default: 1 and 2)"),
    )
    bench.add_argument(
        "--no-compression",
        action="store_true",
        help=_("idle agents without permessage-deflate (veo agent uses it)"),
    )
    bench.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help=_("the single node's database (default: %(default)s); two nodes always share PostgreSQL"),
    )
    bench.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        metavar="URL",
        help=_("PostgreSQL server to use; a throwaway database is created on it and dropped"),
    )
    bench.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS,
        metavar="URL",
        help=_("Redis for two nodes (default: %(default)s)"),
    )
    bench.add_argument("--json", type=Path, metavar="PATH", help=_("also write the figures as JSON"))


def progress(message: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {message}", file=sys.stderr, flush=True)


async def _idle(c: Cluster, world: World, plan: Plan) -> IdleFigures:
    nodes = c.nodes
    await asyncio.sleep(REST_SECONDS)
    before = {n.name: n.usage() for n in nodes}
    figures = IdleFigures(agents=len(world.waiting), held=0, join_seconds=0.0, duration_s=plan.duration)
    figures.rss_before_kib = {k: u.rss_kib for k, u in before.items()}
    figures.pss_before_kib = {k: u.pss_kib for k, u in before.items()}
    if not world.waiting:
        return figures
    progress(f"{len(nodes)} node(s): joining {len(world.waiting)} idle agents")
    async with holding(nodes, world.waiting, compression=plan.compression, progress=progress) as held:
        figures.held = len(held.sockets)
        figures.per_node = held.per_node
        figures.failures = held.failures
        figures.join_seconds = held.join_seconds
        figures.compressed = held.compressed
        progress(f"{figures.held} agents joined in {held.join_seconds:.0f} s; settling")
        await asyncio.sleep(SETTLE_SECONDS)
        after = {n.name: n.usage() for n in nodes}
        figures.rss_after_kib = {k: u.rss_kib for k, u in after.items()}
        figures.pss_after_kib = {k: u.pss_kib for k, u in after.items()}
        progress(f"measuring the nodes' CPU over {plan.duration:.0f} s of idling")
        started = time.monotonic()
        await asyncio.sleep(plan.duration)
        end = {n.name: n.usage() for n in nodes}
        figures.duration_s = round(time.monotonic() - started, 2)
        figures.idle_cpu_s = {k: round(end[k].cpu_s - after[k].cpu_s, 2) for k in end}
    return figures


async def _measure(c: Cluster, world: World, plan: Plan, scenario: Scenario) -> None:
    nodes = c.nodes
    first_index = len(world.waiting)  # set-up agents take addresses after the idle ones
    if plan.setups:
        await run_setups(nodes, world.ticket_id, world.bearer, world.cookie, 1, first_index)  # warm-up
        progress(f"{len(nodes)} node(s): {plan.setups} concurrent set-ups")
        scenario.setups = await run_setups(
            nodes, world.ticket_id, world.bearer, world.cookie, plan.setups, first_index + 1
        )
    scenario.idle = await _idle(c, world, plan)


def _agents_failed(scenario: Scenario) -> bool:
    return bool((scenario.setups and scenario.setups.errors) or (scenario.idle and scenario.idle.failures))


def _devices_failed(scenario: Scenario) -> bool:
    d = scenario.devices
    return d is None or bool(d.failures or d.beside_failures or d.held == 0)


def _show_logs(c: Cluster, failed: bool) -> None:
    if failed:  # what the nodes logged says why
        for node in c.nodes:
            progress(f"{node.name} log ends with:\n{node.tail()}")


def _agents_part(count: int, database: str, plan: Plan, scenario: Scenario) -> None:
    """Set-ups and idle agents on ``count`` nodes, on a database and data directory of their own."""
    with (
        tempfile.TemporaryDirectory(prefix="veo-bench-signaling-") as folder,
        database_for(database == "postgresql", Path(folder), plan.postgres_url) as url,
    ):
        data_dir = Path(folder)
        progress(f"{count} node(s): issuing {plan.agents} sessions")
        world = prepare(url, data_dir, plan.agents, progress)
        redis_url = plan.redis_url if count > 1 else None
        with cluster(count, data_dir, url, redis_url) as c:
            progress(f"{count} node(s) up: " + ", ".join(n.http for n in c.nodes))
            asyncio.run(_measure(c, world, plan, scenario))
            _show_logs(c, _agents_failed(scenario))
        if redis_url is not None:
            progress(f"deleted {forget_sessions(redis_url, url)} session keys from Redis")


def _devices_part(count: int, database: str, plan: Plan, scenario: Scenario) -> None:
    """Idle managed devices (and agents beside them) on fresh nodes with a fresh database: nodes
    that inherited the agents' sessions would spend the measured windows ending them."""
    with (
        tempfile.TemporaryDirectory(prefix="veo-bench-devices-") as folder,
        database_for(database == "postgresql", Path(folder), plan.postgres_url) as url,
    ):
        data_dir = Path(folder)
        beside = min(plan.devices, plan.agents)  # agents joined beside the devices
        progress(f"{count} node(s): enrolling {plan.devices} managed devices, issuing {beside} sessions")
        world = prepare(url, data_dir, beside, progress)
        fleet = devices.enrol(url, plan.devices + WARM_UP)
        redis_url = plan.redis_url if count > 1 else None
        with cluster(count, data_dir, url, redis_url) as c:
            progress(f"{count} fresh node(s) up for the devices: " + ", ".join(n.http for n in c.nodes))
            scenario.devices = asyncio.run(
                measure_devices(
                    c.nodes,
                    fleet,
                    origin=origin_of(c.nodes[0].http) or c.nodes[0].http,
                    database_url=url,
                    duration=plan.duration,
                    # addresses after those of the idle agents and the set-ups
                    first_index=plan.agents + plan.setups + 1,
                    progress=progress,
                    beside=world.waiting,
                )
            )
            _show_logs(c, _devices_failed(scenario))
        if redis_url is not None:
            progress(f"deleted {forget_sessions(redis_url, url)} session keys from Redis")


def run_scenario(count: int, plan: Plan) -> Scenario:
    database = plan.single_database if count == 1 else "postgresql"
    scenario = Scenario(nodes=count, database=database, bus="memory" if count == 1 else "redis")
    try:
        _agents_part(count, database, plan, scenario)
        if plan.devices:
            _devices_part(count, database, plan, scenario)
    except (NodeError, OSError, RuntimeError) as exc:
        scenario.error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        progress(f"{count} node(s): failed: {exc}")
    return scenario


def main(args: argparse.Namespace) -> int:
    limit = procfs.raise_open_files()
    plan = Plan(
        agents=args.agents,
        setups=args.setups,
        devices=args.devices,
        duration=float(args.duration),
        compression=not args.no_compression,
        single_database=args.database,
        postgres_url=args.postgres_url,
        redis_url=args.redis_url,
    )
    progress(f"open files allowed: {limit}")
    scenarios = [run_scenario(count, plan) for count in sorted(set(args.nodes or [1, 2]))]
    print(table(scenarios))
    if args.json is not None:
        payload = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "agents": plan.agents,
            "setups": plan.setups,
            "devices": plan.devices,
            "duration_s": plan.duration,
            "compression": plan.compression,
            "argv": sys.argv[1:],
            "scenarios": [s.as_dict() for s in scenarios],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0 if all(_measured(s, plan) for s in scenarios) else 1


def _measured(scenario: Scenario, plan: Plan) -> bool:
    """The scenario ran and measured something of each kind asked for (the smoke run's promise:
    a bench that crashes or measures nothing fails, slow figures never do)."""
    if scenario.error is not None:
        return False
    setups_ok = plan.setups == 0 or (scenario.setups is not None and scenario.setups.ok > 0)
    idle_ok = plan.agents == 0 or (scenario.idle is not None and scenario.idle.held > 0)
    devices_ok = plan.devices == 0 or (scenario.devices is not None and scenario.devices.held > 0)
    return setups_ok and idle_ok and devices_ok
