"""Fixtures of the end-to-end suite: namespace, display, demo app, veo server, agent, Chromium.

Expensive parts (namespace, Xvfb, server, browser) live for the whole session; the demo
application, the agent and the ticket are per test, so each test starts from a known state.
Failures carry the tail of every log the test registered (``Logs``) in the pytest report.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from .browser import CHROMIUM_ARGS, chromium_wrapper
from .console import CHANNEL_SPY, Console
from .demo import DemoApp
from .flow import LiveSession, start_session
from .netns import NetworkNamespace
from .procs import Logs
from .stack import VeoServer
from .xdisplay import XvfbDisplay

LOGS_KEY = pytest.StashKey[Logs]()
REQUIRED_TOOLS = ("ip", "Xvfb", "xdotool", "/usr/bin/chromium")


def _unavailable(reason: str) -> None:
    """Skip on a developer machine that cannot run the suite; fail in CI, where it must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"end-to-end tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"end-to-end tests need {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    logs = item.stash.get(LOGS_KEY, None)
    if report.failed and logs is not None and logs.processes:
        report.sections.append(("e2e process logs", logs.report(lines=80)))


@pytest.fixture(scope="session")
def netns() -> Iterator[NetworkNamespace]:
    if os.geteuid() != 0:
        _unavailable("root (to create a network namespace)")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        _unavailable(f"{', '.join(missing)} (run `make system-packages`)")
    namespace = NetworkNamespace(f"veo-e2e-{os.getpid()}")
    namespace.create()
    yield namespace
    namespace.delete()


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def xvfb(netns: NetworkNamespace, e2e_dir: Path) -> Iterator[XvfbDisplay]:
    display = XvfbDisplay(netns, e2e_dir / "xvfb.log")
    yield display
    display.stop()


@pytest.fixture
def logs(request: pytest.FixtureRequest) -> Logs:
    collected = Logs()
    request.node.stash[LOGS_KEY] = collected
    return collected


@pytest.fixture
def demo_app(netns: NetworkNamespace, xvfb: XvfbDisplay, tmp_path: Path, logs: Logs) -> Iterator[DemoApp]:
    app = DemoApp(netns, xvfb, tmp_path, logs)
    yield app
    app.stop()


@pytest.fixture(scope="session")
def browser(netns: NetworkNamespace, e2e_dir: Path) -> Iterator[Browser]:
    wrapper = chromium_wrapper(netns, e2e_dir)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(wrapper), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def veo_server(netns: NetworkNamespace, e2e_dir: Path) -> Iterator[VeoServer]:
    server = VeoServer(netns, e2e_dir)
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tech_context(browser: Browser, veo_server: VeoServer) -> Iterator[BrowserContext]:
    """A technician logged in once for the whole run (each test opens its own page)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="en-US")
    context.add_init_script(CHANNEL_SPY)
    page = context.new_page()
    Console(page, veo_server.url, Logs()).login()
    page.close()
    yield context
    context.close()


@pytest.fixture
def console(tech_context: BrowserContext, veo_server: VeoServer, logs: Logs) -> Iterator[Console]:
    assert veo_server.process is not None
    logs.add(veo_server.process)
    page = tech_context.new_page()
    yield Console(page, veo_server.url, logs)
    page.close()


@pytest.fixture
def start(
    netns: NetworkNamespace,
    veo_server: VeoServer,
    xvfb: XvfbDisplay,
    demo_app: DemoApp,
    console: Console,
    tmp_path: Path,
    logs: Logs,
) -> Iterator[Callable[..., LiveSession]]:
    """``start(control=True)`` runs a session up to *active*; the agent is stopped afterwards."""
    started: list[LiveSession] = []

    def run(control: bool = True) -> LiveSession:
        live = start_session(
            netns=netns, server=veo_server, display=xvfb, app=demo_app, console=console,
            workdir=tmp_path, logs=logs, control=control,
        )  # fmt: skip
        started.append(live)
        return live

    yield run
    for live in started:
        live.agent.stop()
