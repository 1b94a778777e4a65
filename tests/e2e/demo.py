"""Start the demo application (``demo_app.py``) on the test display and read what it shows."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from .demo_app import AppState
from .netns import NetworkNamespace
from .procs import LoggedProcess, Logs, wait_for
from .xdisplay import Rect, XvfbDisplay

APP_SCRIPT = Path(__file__).with_name("demo_app.py")


class DemoApp:
    """The running demo application and its state file."""

    def __init__(
        self,
        netns: NetworkNamespace,
        display: XvfbDisplay,
        workdir: Path,
        logs: Logs,
        name: str = "demo-app",
        placement: tuple[str, tuple[int, int, int]] | None = None,
    ) -> None:
        """``placement`` (geometry such as ``"560x400+2000+200"``, block colour) starts a second
        window elsewhere, told apart by its ``name`` (state and log files) and its block colour."""
        self.state_path = workdir / f"{name}-state.json"
        self.logs = logs
        extra = [placement[0], "{:02x}{:02x}{:02x}".format(*placement[1])] if placement else []
        self.process = logs.add(
            LoggedProcess(
                name,
                netns.command([sys.executable, str(APP_SCRIPT), str(self.state_path), *extra]),
                workdir / f"{name}.log",
                env=display.env(),
            )
        )
        self.initial = self.wait_state("the demo application to map its window", lambda s: True)

    def state(self) -> AppState | None:
        return AppState.read(self.state_path)

    def wait_state(self, what: str, predicate: Callable[[AppState], bool], timeout: float = 20.0) -> AppState:
        def probe() -> AppState | None:
            state = self.state()
            return state if state is not None and predicate(state) else None

        return wait_for(what, probe, timeout, self.logs, last=lambda: repr(self.state()))

    def widget(self, name: str) -> Rect:
        return Rect.from_list(self.initial.widgets[name])

    def stop(self) -> None:
        self.process.stop()
