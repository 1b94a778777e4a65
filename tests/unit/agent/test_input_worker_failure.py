"""An input backend that cannot start is said once in the log, and the session goes on.

On Wayland the injector comes from the desktop step (the portal), and what is missing arrives as
a :class:`~veo.agent.backend.BackendError` rather than an ``InputError``: both must stop the worker
from trying again on every event and must never escape into the input thread.
"""

from __future__ import annotations

import logging

import pytest

from veo.agent.backend import BackendError
from veo.agent.input.base import InputError, InputInjector
from veo.agent.input_worker import InputWorker
from veo.protocol.datachannel import PointerMove


@pytest.mark.parametrize("error", [InputError("no XTEST"), BackendError("no_remote_desktop")])
def test_a_backend_that_cannot_start_is_tried_once(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def factory() -> InputInjector:
        calls.append(1)
        raise error

    worker = InputWorker(factory)
    caplog.set_level(logging.ERROR, logger="veo.agent.input_worker")
    try:
        for x in range(5):
            worker.submit(PointerMove(x=x, y=1))
        worker.release_all()
    finally:
        done = worker.close()
        assert done is not None
        done.result(timeout=5)  # every submitted event ran before the close
    assert calls == [1]
    assert [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()] == [
        f"remote control unavailable: {error}"
    ]
