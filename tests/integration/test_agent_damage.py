"""The X damage watcher after the stream closed it (the user pressed *Stop* while a frame waited)."""

from __future__ import annotations

import shutil

import pytest
from tests.xvfb import xvfb_display

from veo.agent.damage import XDamageWatcher

pytestmark = [pytest.mark.timeout(60), pytest.mark.skipif(not shutil.which("Xvfb"), reason="needs Xvfb")]


def test_rearm_after_close_does_nothing() -> None:
    """Before the fix, rearm() sent DamageSubtract on the closed connection: ConnectionClosedError
    in aiortc's sender, whose traceback reached the user's terminal at every *Stop*."""
    with xvfb_display(size="640x480x24") as name:
        watcher = XDamageWatcher(lambda: None, name)
        watcher.rearm()  # open: empties the region
        watcher.close()
        assert not watcher.alive
        watcher.rearm()
