"""signaling.js: how soon a dropped console socket tries again (a restarted server, issue 13)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py


def test_reconnects_soon_and_keeps_trying_every_two_seconds(run_js: RunJs) -> None:
    got = run_js(
        """
        const { backoffDelay } = await mod("signaling.js");
        return [0, 1, 2, 3, 10, 50].map(backoffDelay);
        """
    )
    # the agent's resume offer reaches the console only through this socket: never wait long
    assert got == [500, 1000, 2000, 2000, 2000, 2000]
