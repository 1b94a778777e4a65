"""Runs the input backend in its own thread, in arrival order, off the event loop.

X11 round trips are short but not free, and a stuck X server must never freeze signaling or
the video. The backend is created inside the thread that uses it (python-xlib connections are
not thread-safe). If the platform offers no input, control simply does nothing and says so once.

The console's coordinates are relative to the region it shows (one monitor, or the whole
desktop); :func:`on_desktop` adds that region's origin and keeps the point inside it. The region
changes in the same thread and queue as the input, so every event uses the region that was
shown when the events before it were applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from veo.agent.backend import BackendError
from veo.agent.capture.base import Region
from veo.agent.input.base import InputError, InputInjector
from veo.agent.policy import apply
from veo.protocol.datachannel import InputMessage, PointerButton, PointerMove, Wheel

log = logging.getLogger(__name__)


def on_desktop(message: InputMessage, region: Region | None) -> InputMessage:
    """``message`` with its pointer position moved from region to desktop pixels (clamped in it)."""
    if region is None or not isinstance(message, PointerMove | PointerButton | Wheel):
        return message
    x, y = region.to_desktop(message.x, message.y)
    return message.model_copy(update={"x": x, "y": y})


class InputWorker:
    def __init__(self, factory: Callable[[], InputInjector]) -> None:
        self._factory = factory
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="veo-input")
        self._injector: InputInjector | None = None
        self._failed = False
        self._closed = False
        self._region: Region | None = None  # touched only in the input thread

    def _backend(self) -> InputInjector | None:
        if self._injector is None and not self._failed:
            try:
                self._injector = self._factory()
            except (InputError, BackendError) as exc:  # said once; the session goes on without input
                self._failed = True
                log.error("remote control unavailable: %s", exc)
        return self._injector

    def _apply(self, message: InputMessage) -> None:
        injector = self._backend()
        if injector is None:
            return
        try:
            apply(injector, on_desktop(message, self._region))
        except Exception:  # one bad event must not stop the input thread
            log.exception("input %s failed", message.type)

    def _release(self) -> None:
        if self._injector is not None:
            self._injector.release_all()

    def _close(self) -> None:
        if self._injector is not None:
            try:
                self._injector.close()
            finally:
                self._injector = None

    def submit(self, message: InputMessage) -> None:
        if not self._closed:
            self._executor.submit(self._apply, message)

    def release_all(self) -> None:
        if not self._closed:
            self._executor.submit(self._release)

    def _set_region(self, region: Region | None) -> None:
        self._region = region

    def set_region(self, region: Region | None) -> None:
        """Input coordinates are relative to ``region`` from now on (``None``: the whole desktop)."""
        if not self._closed:
            self._executor.submit(self._set_region, region)

    def close(self) -> Future[None] | None:
        """Release everything held down and close the backend; the future says when it is done."""
        if self._closed:
            return None
        self._closed = True
        done = self._executor.submit(self._close)
        self._executor.shutdown(wait=False)
        return done
