"""The hub's side of a WebSocket: one peer, its error replies, and the bus channel names."""

from __future__ import annotations

import json
import logging

import anyio
from starlette.websockets import WebSocket, WebSocketState

from veo.protocol.base import Message, ProtocolError
from veo.protocol.signaling import Error
from veo.server.sessions.messages import error_text

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008


def agent_channel(session_id: str) -> str:
    return f"session:{session_id}:agent"


def console_channel(session_id: str) -> str:
    return f"session:{session_id}:console"


#: Bus messages for the nodes themselves start with this (``bus.base.RESYNC`` does too): the hub
#: acts on them and never sends them to a peer.
INTERNAL = "\x00veo-"
_REPLACED = INTERNAL + "agent-replaced:"


def is_internal(raw: str) -> bool:
    return raw.startswith("\x00")


def replaced(generation: int) -> str:
    """On the agent channel: agent sockets older than ``generation`` close, on whichever node."""
    return f"{_REPLACED}{generation}"


def replaced_generation(raw: str) -> int | None:
    """The generation of a :func:`replaced` notice (None for anything else)."""
    if not raw.startswith(_REPLACED):
        return None
    try:
        return int(raw[len(_REPLACED) :])
    except ValueError:
        return None


def is_ended(raw: str) -> bool:
    try:
        data = json.loads(raw)
    except ValueError:
        return False
    # ``upgraded`` ends a browser share's connection: the agent continues the session.
    return isinstance(data, dict) and data.get("type") in ("ended", "upgraded")


def error(code: str, detail: str = "", *, fatal: bool = False) -> Error:
    return Error(code=code, message=error_text(code, detail)[:500], fatal=fatal)


class Peer:
    """One WebSocket: text in (``None`` on disconnect), whole messages out, one writer at a time."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self._lock = anyio.Lock()

    async def receive(self) -> str | bytes | None:
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text: str | None = message.get("text")
        return text if text is not None else bytes(message.get("bytes") or b"")

    async def send(self, message: Message | str) -> None:
        raw = message if isinstance(message, str) else message.dumps()
        async with self._lock:
            await self.ws.send_text(raw)

    async def close(self, code: int = CLOSE_NORMAL) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            try:
                await self.ws.close(code)
            except Exception:  # the client is already gone
                log.debug("close after disconnect", exc_info=True)


def protocol_error(exc: ProtocolError, *, fatal: bool = False) -> Error:
    detail = exc.message if exc.code in ("invalid_message", "unknown_type") else ""
    return error(exc.code, detail, fatal=fatal)
