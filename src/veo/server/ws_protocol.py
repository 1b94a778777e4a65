"""Uvicorn's ``websockets`` protocol with a short closing wait, for peers whose network vanished.

When a peer stops answering pings (its network dropped without a FIN or RST: a cable pulled, a
laptop asleep, a link set down), the keepalive gives up after ``ws_ping_interval`` +
``ws_ping_timeout``, and then the library waits ``close_timeout`` (10 s by default, which Uvicorn
does not let one set) for the dead TCP connection to close before it aborts it; only then does
the application hear of the disconnect. A session whose agent vanished was thus interrupted some
20 s after the loss instead of ~10 s, and ended that much later than its grace period (issue 13).
A closing handshake with a live peer takes milliseconds, so one second is plenty.

Imported by ``veo server`` after it silenced Uvicorn's deprecation note for this protocol.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol

#: Seconds the closing handshake (and the TCP close after it) may take before the socket is aborted.
CLOSE_TIMEOUT_SECONDS = 1.0


class QuickCloseWebSocketProtocol(WebSocketProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = CLOSE_TIMEOUT_SECONDS
