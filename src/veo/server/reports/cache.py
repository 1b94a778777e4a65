"""A small in-process cache of finished reports, valid while the data is unchanged.

Computing a report reads every ticket of the period (tens of thousands at 100,000 tickets) and
clusters their texts, which takes longer than a page should. The figures only change when a
ticket, session or rating does, so each report is kept under its period together with the
database's :func:`~veo.server.reports.queries.fingerprint`; one cheap query tells whether the
copy is still right. A time limit bounds what the fingerprint cannot see (a renamed category or
technician). Each server node keeps its own copy, which needs no coordination.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class FingerprintCache(Generic[T]):
    def __init__(self, *, max_entries: int = 16, max_age_s: float = 300.0) -> None:
        self.max_entries = max_entries
        self.max_age_s = max_age_s
        self._entries: OrderedDict[Hashable, tuple[Hashable, float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, fingerprint: Hashable, compute: Callable[[], T]) -> T:
        """The cached value for ``key`` if computed at this ``fingerprint`` recently, else ``compute()``."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == fingerprint and now - entry[1] < self.max_age_s:
                self._entries.move_to_end(key)
                return entry[2]
        value = compute()  # outside the lock: two requests may compute at once, both correctly
        with self._lock:
            self._entries[key] = (fingerprint, now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
