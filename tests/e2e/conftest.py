"""Fixtures of the end-to-end suite: namespace, display, demo app, veo server, agent, Chromium.

Expensive parts (namespace, Xvfb, server, browser) live for the whole session; the demo
application, the agent and the ticket are per test, so each test starts from a known state.
Failures carry the tail of every log the test registered (``Logs``) in the pytest report.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
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
DISPLAY_KEY = pytest.StashKey[XvfbDisplay]()
WORKDIR_KEY = pytest.StashKey[Path]()
REQUIRED_TOOLS = ("ip", "Xvfb", "xdpyinfo", "xdotool", "/usr/bin/chromium")


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
        display = item.stash.get(DISPLAY_KEY, None)
        if display is not None:
            path = Path(str(item.stash[WORKDIR_KEY])) / f"screen-{report.when}.png"
            try:
                report.sections.append(("e2e display", f"screenshot: {display.screenshot(path)}"))
            except Exception as exc:  # a report must never fail because of the screenshot
                report.sections.append(("e2e display", f"no screenshot: {exc}"))


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
def e2e_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Our own directory, not pytest's ``tmp_path``: concurrent pytest runs of the same user prune
    each other's old base temp directories, which deleted a running server's database once.
    Kept when a test failed (the report names the files), removed otherwise."""
    directory = Path(tempfile.mkdtemp(prefix="veo-e2e-"))
    yield directory
    if request.session.testsfailed == 0:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def workdir(request: pytest.FixtureRequest, e2e_dir: Path) -> Path:
    """A directory per test inside ``e2e_dir``, named after the test."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    directory = e2e_dir / name
    directory.mkdir(exist_ok=True)
    return directory


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
def demo_app(
    request: pytest.FixtureRequest, netns: NetworkNamespace, xvfb: XvfbDisplay, workdir: Path, logs: Logs
) -> Iterator[DemoApp]:
    request.node.stash[DISPLAY_KEY] = xvfb
    request.node.stash[WORKDIR_KEY] = workdir
    app = DemoApp(netns, xvfb, workdir, logs)
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
    workdir: Path,
    logs: Logs,
) -> Iterator[Callable[..., LiveSession]]:
    """``start(control=True)`` runs a session up to *active*; the agent is stopped afterwards."""
    started: list[LiveSession] = []

    def run(control: bool = True, request: tuple[str, ...] = (), refuse: tuple[str, ...] = ()) -> LiveSession:
        live = start_session(
            netns=netns, server=veo_server, display=xvfb, app=demo_app, console=console,
            workdir=workdir, logs=logs, control=control, request=request, refuse=refuse,
        )  # fmt: skip
        started.append(live)
        return live

    yield run
    for live in started:
        live.agent.stop()
