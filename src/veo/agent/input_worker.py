"""Runs the input backend in its own thread, in arrival order, off the event loop.

X11 round trips are short but not free, and a stuck X server must never freeze signaling or
the video. The backend is created inside the thread that uses it (python-xlib connections are
not thread-safe). If the platform offers no input, control simply does nothing and says so once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from veo.agent.input.base import InputError, InputInjector
from veo.agent.policy import apply
from veo.protocol.datachannel import InputMessage

log = logging.getLogger(__name__)


class InputWorker:
    def __init__(self, factory: Callable[[], InputInjector]) -> None:
        self._factory = factory
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="veo-input")
        self._injector: InputInjector | None = None
        self._failed = False
        self._closed = False

    def _backend(self) -> InputInjector | None:
        if self._injector is None and not self._failed:
            try:
                self._injector = self._factory()
            except InputError as exc:
                self._failed = True
                log.error("remote control unavailable: %s", exc)
        return self._injector

    def _apply(self, message: InputMessage) -> None:
        injector = self._backend()
        if injector is None:
            return
        try:
            apply(injector, message)
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

    def close(self) -> Future[None] | None:
        """Release everything held down and close the backend; the future says when it is done."""
        if self._closed:
            return None
        self._closed = True
        done = self._executor.submit(self._close)
        self._executor.shutdown(wait=False)
        return done
