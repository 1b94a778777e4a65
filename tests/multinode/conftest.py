"""Fixtures of the multi-node suite: a fresh PostgreSQL database, our own Redis, three veo nodes
behind HAProxy, and the e2e suite's namespace, display, demo app and Chromium (imported, not
copied: ``tests/e2e/conftest.py``).

One cluster serves the whole module (starting three nodes costs ~20 s on the shared machine);
each test has its own session, agent and demo app, and leaves the cluster whole again (every
node and Redis running, HAProxy unpinned) for the next one.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext
from sqlalchemy.engine import make_url
from tests.conftest import PG_URL, _create_database, _drop_database
from tests.e2e import conftest as e2e
from tests.e2e.console import CHANNEL_SPY, Console
from tests.e2e.demo import DemoApp
from tests.e2e.flow import start_session
from tests.e2e.netns import NetworkNamespace
from tests.e2e.procs import LoggedProcess, Logs, wait_for
from tests.e2e.stack import VeoAgent
from tests.e2e.xdisplay import XvfbDisplay

from .case import AGENT_SOCKET, MultiNodeCase
from .cluster import Cluster, SharedDatabase
from .redis_server import RedisServer

# The e2e suite's fixtures and report hook, by name (pytest finds them in this module).
netns = e2e.netns
e2e_dir = e2e.e2e_dir
workdir = e2e.workdir
xvfb = e2e.xvfb
logs = e2e.logs
demo_app = e2e.demo_app
browser = e2e.browser
pytest_runtest_makereport = e2e.pytest_runtest_makereport
_unavailable = e2e._unavailable

#: The agent's log lines for its join's outcome (``agent/session.py``).
JOINED = "joined session "
REFUSED = "join refused: "
BLINKER_SCRIPT = Path(__file__).with_name("blinker.py")
#: Where the PostgreSQL server's Unix socket is (what the nodes in the namespace connect through).
PG_SOCKET_DIR = "/var/run/postgresql"


@pytest.fixture(scope="module")
def multinode_dir(e2e_dir: Path, request: pytest.FixtureRequest) -> Path:
    name: str = request.module.__name__
    directory = e2e_dir / name.rsplit(".", 1)[-1]
    directory.mkdir(exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def database(netns: NetworkNamespace) -> Iterator[SharedDatabase]:
    """A fresh database ``veo_multinode_<hex>`` on the machine's PostgreSQL, dropped afterwards;
    the nodes reach the same server through its Unix socket."""
    if shutil.which("haproxy") is None or shutil.which("redis-server") is None:
        _unavailable("haproxy and redis-server (run `make system-packages`)")
    if not Path(PG_SOCKET_DIR).is_dir():
        _unavailable(f"PostgreSQL's socket directory {PG_SOCKET_DIR}")
    url, name = _create_database("veo_multinode")
    user = make_url(PG_URL).username or "postgres"
    yield SharedDatabase(f"postgresql+psycopg://{user}@/{name}?host={PG_SOCKET_DIR}", url)
    _drop_database(name)


@pytest.fixture(scope="module")
def redis_server(netns: NetworkNamespace, multinode_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(netns, multinode_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(
    netns: NetworkNamespace, multinode_dir: Path, database: SharedDatabase, redis_server: RedisServer
) -> Iterator[Cluster]:
    nodes = Cluster(netns, multinode_dir, database.nodes_url, redis_server.url)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope="module")
def tech_context(browser: Browser, cluster: Cluster) -> Iterator[BrowserContext]:
    """A technician signed in through the proxy (cookies are per host, so valid on every node)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="en-US")
    context.add_init_script(CHANNEL_SPY)
    page = context.new_page()
    Console(page, cluster.url, Logs()).login()
    page.close()
    yield context
    context.close()


@pytest.fixture
def console(tech_context: BrowserContext, cluster: Cluster, logs: Logs) -> Iterator[Console]:
    cluster.add_logs(logs)
    page = tech_context.new_page()
    yield Console(page, cluster.url, logs)
    page.close()


@pytest.fixture
def blinker(netns: NetworkNamespace, xvfb: XvfbDisplay, workdir: Path, logs: Logs) -> Iterator[LoggedProcess]:
    """The colour-changing window (``blinker.py``) on the display for the whole test."""
    process = logs.add(
        LoggedProcess(
            "blinker",
            netns.command([sys.executable, str(BLINKER_SCRIPT)]),
            workdir / "blinker.log",
            env=xvfb.env(),
        )
    )
    yield process
    process.stop()


@pytest.fixture
def heal(cluster: Cluster, redis_server: RedisServer, logs: Logs) -> Iterator[Callable[[], None]]:
    """After the test: Redis and every node running again, HAProxy unpinned and seeing all up.

    Nodes keep running through a Redis restart: the next test begins on nodes that lived through
    it (on 046de41 that failed the next join, a dead pooled connection; see
    ``test_a_session_starts_right_after_redis_restarted``)."""

    def repair() -> None:
        if redis_server.process is None or not redis_server.process.running():
            redis_server.start(logs)
        stopped = [n for n in cluster.nodes if not n.running()]
        for node in stopped:
            node.launch(logs)
        for node in stopped:
            node.wait_ready(logs)
        cluster.proxy.unpin()
        cluster.proxy.wait_up({n.name for n in cluster.nodes}, logs)

    yield repair
    repair()


@pytest.fixture
def across(
    netns: NetworkNamespace,
    cluster: Cluster,
    xvfb: XvfbDisplay,
    demo_app: DemoApp,
    blinker: LoggedProcess,
    console: Console,
    workdir: Path,
    logs: Logs,
    heal: Callable[[], None],
) -> Iterator[Callable[[], MultiNodeCase]]:
    """``across()`` runs a session up to *Codes match* with the console on node 2 and the agent on
    node 1 (each pinned there while it connects, checked in the nodes' logs); HAProxy is unpinned
    before it returns. The agent is stopped and the cluster healed afterwards (``heal``)."""
    started: list[VeoAgent] = []
    agent_node, console_node = cluster.nodes[0], cluster.nodes[1]

    def launch(code: str) -> VeoAgent:
        cluster.proxy.pin(agent_node)
        # a second session of the test gets its own agent log and home (the first stays readable)
        directory = workdir / f"session-{len(started) + 1}" if started else workdir
        directory.mkdir(exist_ok=True)
        agent = VeoAgent(netns, xvfb, cluster, code, directory)
        started.append(agent)
        # fail at once with the server's reason when the code is refused (not after the 60 s wait
        # for a consent dialog that will never come)
        outcome = wait_for(
            "the agent to join or be refused",
            lambda: next((line for line in agent.log.lines() if JOINED in line or REFUSED in line), None),
            60,
            logs,
        )
        assert REFUSED not in outcome, outcome
        return agent

    def run() -> MultiNodeCase:
        agents_before = {n.name: n.log().count(AGENT_SOCKET) for n in cluster.nodes}
        cluster.proxy.pin(console_node)
        try:
            live = start_session(
                netns=netns, server=cluster, display=xvfb, app=demo_app, console=console,
                workdir=workdir, logs=logs, control=True, launch_agent=launch,
            )  # fmt: skip
        finally:
            cluster.proxy.unpin()
        case = MultiNodeCase(cluster, live, logs, agent_node, console_node)
        consoles = case.sockets(case.console_socket)
        assert consoles[console_node.name] >= 1 and sum(consoles.values()) == consoles[console_node.name], (
            consoles
        )
        agents = {name: count - agents_before[name] for name, count in case.sockets(AGENT_SOCKET).items()}
        assert agents[agent_node.name] >= 1 and sum(agents.values()) == agents[agent_node.name], agents
        return case

    try:
        yield run
    finally:
        for agent in started:
            agent.stop()
