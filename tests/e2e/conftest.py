"""Fixtures of the end-to-end suite: namespace, display, demo app, veo server, agent, Chromium.

Expensive parts (namespace, Xvfb, server, browser) live for the whole session; the demo
application, the agent and the ticket are per test, so each test starts from a known state.
Failures carry the tail of every log the test registered (``Logs``) in the pytest report.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from .browser import CHROMIUM_ARGS, chromium_wrapper
from .demo import DemoApp
from .netns import NetworkNamespace
from .procs import Logs
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
