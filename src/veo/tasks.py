"""Background tasks that are never lost.

``asyncio`` keeps only a weak reference to a task, so a fire-and-forget ``create_task`` can be
garbage-collected mid-flight and its exception is never seen. Every background task in veo goes
through :func:`spawn`, which keeps a strong reference until the task is done and logs a failure
instead of letting it vanish (mitmproxy does the same).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

_running: set[asyncio.Task[Any]] = set()


def _done(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background task %s failed", task.get_name(), exc_info=exc)


def spawn(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
    """Start ``coro`` in the background, keeping it alive and its failure visible."""
    task = asyncio.create_task(coro, name=name)
    _running.add(task)
    task.add_done_callback(_done)
    return task
