"""A small in-process cache of finished reports that stays fast while tickets keep changing.

Computing a report reads every ticket of the period (tens of thousands at 100,000 tickets) and
clusters their texts: a second or more, longer than a page should take. So:

- each report is kept under its key together with the database's
  :func:`~veo.server.reports.queries.fingerprint` (one cheap query); same fingerprint, same report;
- when the data changed, the last report is served at once (it says when it was computed) while
  one background thread per key computes the new one (stale-while-revalidate); the next reader
  gets fresh figures. A caller that needs figures of this instant asks with ``stale_ok=False``;
- only a key never computed (or older than ``max_age_s``) is computed while the reader waits.

Each server node keeps its own copy, which needs no coordination. Refresh threads are kept in
``_refreshing`` (a strong reference, never fire-and-forget) and :meth:`wait_idle` joins them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Entry(Generic[T]):
    fingerprint: Hashable
    at: float
    value: T


class FingerprintCache(Generic[T]):
    def __init__(self, *, max_entries: int = 16, max_age_s: float = 600.0) -> None:
        self.max_entries = max_entries
        self.max_age_s = max_age_s
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self._refreshing: dict[Hashable, threading.Thread] = {}
        self._lock = threading.Lock()

    def get(
        self, key: Hashable, fingerprint: Hashable, compute: Callable[[], T], *, stale_ok: bool = False
    ) -> T:
        """The value for ``key`` at ``fingerprint``; see the module notes for when it may be stale.

        ``compute`` must open its own database session: it may run on a refresh thread after
        the request that asked has finished.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry.at < self.max_age_s:
                if entry.fingerprint == fingerprint:
                    self._entries.move_to_end(key)
                    return entry.value
                if stale_ok:
                    self._refresh(key, fingerprint, compute)
                    return entry.value
        value = compute()  # outside the lock: two readers may compute at once, both correctly
        self._store(key, fingerprint, value)
        return value

    def _store(self, key: Hashable, fingerprint: Hashable, value: T) -> None:
        with self._lock:
            self._entries[key] = _Entry(fingerprint, time.monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def _refresh(self, key: Hashable, fingerprint: Hashable, compute: Callable[[], T]) -> None:
        """Start one background computation for ``key`` unless one is running (lock held)."""
        if key in self._refreshing:
            return

        def run() -> None:
            try:
                self._store(key, fingerprint, compute())
            except Exception:
                log.exception("refreshing a cached report failed; the next reader computes it")
                with self._lock:
                    self._entries.pop(key, None)
            finally:
                with self._lock:
                    self._refreshing.pop(key, None)

        thread = threading.Thread(target=run, name="veo-report-refresh", daemon=True)
        self._refreshing[key] = thread
        thread.start()

    def wait_idle(self) -> None:
        """Wait for every running refresh (shutdown, tests)."""
        while True:
            with self._lock:
                threads = list(self._refreshing.values())
            if not threads:
                return
            for thread in threads:
                thread.join()

    def clear(self) -> None:
        self.wait_idle()
        with self._lock:
            self._entries.clear()
