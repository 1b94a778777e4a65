"""The console WebSockets open on this node, by account: who to cut off when an account is.

Each ``/ws/console`` connection is registered for its lifetime with the account and the browser
session (cookie) it was opened with. :meth:`ConsoleRegistry.revoke` marks an account's
connections revoked; the hub refuses every message of a revoked connection before doing
anything with it and closes it. Marking is synchronous and thread-safe because it runs in the
thread that committed the account change (``auth/revoked.py``), before that request's answer
leaves: from then on nothing the old console sends is relayed.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from veo.server.sessions.wire import Peer


@dataclass(eq=False)
class ConsoleConnection:
    """One open console socket; ``revoked`` is why it may no longer act (None: it may)."""

    user_id: int
    session_id: str
    #: The browser session (cookie) the socket was opened with; None when it is not known.
    web_session_id: int | None
    peer: Peer
    revoked: str | None = field(default=None)
    #: Names this socket in the shared runtime (``SessionRuntime.answered_by``), on any node.
    id: str = field(default_factory=lambda: secrets.token_hex(8))


class ConsoleRegistry:
    """Open console connections of this node, by account id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_user: dict[int, set[ConsoleConnection]] = {}

    @contextmanager
    def open(self, connection: ConsoleConnection) -> Iterator[ConsoleConnection]:
        """Registered while the block runs (the connection's lifetime)."""
        with self._lock:
            self._by_user.setdefault(connection.user_id, set()).add(connection)
        try:
            yield connection
        finally:
            with self._lock:
                held = self._by_user.get(connection.user_id)
                if held is not None:
                    held.discard(connection)
                    if not held:
                        del self._by_user[connection.user_id]

    def of_user(self, user_id: int) -> list[ConsoleConnection]:
        with self._lock:
            return list(self._by_user.get(user_id, ()))

    def revoke(
        self, user_id: int, reason: str, session_ids: set[str] | None = None
    ) -> list[ConsoleConnection]:
        """Mark the account's connections (only those on ``session_ids`` when given); the marked ones.

        A connection keeps the first reason it was revoked for.
        """
        with self._lock:
            marked = [
                c
                for c in self._by_user.get(user_id, ())
                if session_ids is None or c.session_id in session_ids
            ]
            for connection in marked:
                connection.revoked = connection.revoked or reason
        return marked

    def __len__(self) -> int:
        with self._lock:
            return sum(len(held) for held in self._by_user.values())
