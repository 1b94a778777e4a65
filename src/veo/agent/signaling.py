"""The agent's signaling pipe to the server: a WebSocket to ``/ws/agent``, behind a tiny interface.

The session only needs send / receive / close of text messages; tests hand it an in-memory pipe
instead, and a future transport (e.g. through a proxy) plugs in the same way.

Keepalive: a ping every :data:`PING_SECONDS`, the socket is dropped when no pong came within
:data:`PING_TIMEOUT_SECONDS`, so a dead path is noticed in ~10 s (then ``agent/reconnect.py``
opens a new one) instead of at TCP's own pace, which can take many minutes.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from veo.agent.tls import client_context, is_untrusted_certificate
from veo.protocol.base import MAX_MESSAGE_BYTES

CONNECT_TIMEOUT_SECONDS = 20
PING_SECONDS = 5.0
PING_TIMEOUT_SECONDS = 5.0
#: How long closing waits for the server's close frame: on a dead path it never comes, and the
#: session must not sit on it (the user's end notice, the reconnect, both wait for the close).
CLOSE_TIMEOUT_SECONDS = 2.0


class ChannelClosed(Exception):
    """The other end closed the signaling channel (or the network dropped it)."""


class ConnectError(Exception):
    """The server could not be reached or refused the WebSocket; ``detail`` is for the log.

    ``untrusted`` is set when TLS refused the server's certificate (unknown issuer, expired, or
    issued for another host name): nothing was sent to that server.
    """

    def __init__(self, detail: str, untrusted: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.untrusted = untrusted


class SignalingChannel(Protocol):
    async def send(self, message: str) -> None: ...

    async def recv(self) -> str: ...

    async def close(self) -> None: ...


class WebSocketChannel:
    def __init__(self, connection: ClientConnection) -> None:
        self._ws = connection

    @classmethod
    async def open(
        cls, url: str, tls: ssl.SSLContext | None = None, open_timeout: float = CONNECT_TIMEOUT_SECONDS
    ) -> WebSocketChannel:
        """Connect; for wss:// the certificate and host name are verified (``tls``, else the system's store).

        A plain ws:// URL only ever comes from :func:`veo.agent.urls.agent_ws_url` for loopback.
        ``open_timeout``: a reconnect uses a short one (``reconnect.OPEN_TIMEOUT_SECONDS``).
        """
        context = (tls or client_context()) if url.startswith("wss://") else None
        try:
            connection = await connect(
                url,
                ssl=context,
                max_size=MAX_MESSAGE_BYTES,
                open_timeout=open_timeout,
                ping_interval=PING_SECONDS,
                ping_timeout=PING_TIMEOUT_SECONDS,
                close_timeout=CLOSE_TIMEOUT_SECONDS,
                proxy=None,
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            detail = f"{type(exc).__name__}: {exc}"
            raise ConnectError(detail, untrusted=is_untrusted_certificate(exc)) from None
        return cls(connection)

    @property
    def verified_host(self) -> str | None:
        """The host name TLS checked this connection's certificate against (chain and name both);
        ``None`` for a plain ``ws://`` connection (loopback only). The consent dialog shows it:
        it is where the agent is connected, whatever the server says about itself."""
        ssl_object = self._ws.transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        context = ssl_object.context
        if context.verify_mode != ssl.CERT_REQUIRED or not context.check_hostname:
            return None
        host = ssl_object.server_hostname
        return str(host) if host else None

    async def send(self, message: str) -> None:
        try:
            await self._ws.send(message)
        except ConnectionClosed:
            raise ChannelClosed from None

    async def recv(self) -> str:
        try:
            data = await self._ws.recv()
        except ConnectionClosed:
            raise ChannelClosed from None
        return data if isinstance(data, str) else data.decode("utf-8", "replace")

    async def probe(self, seconds: float) -> bool:
        """Whether the server answers a ping within ``seconds``."""
        try:
            pong = await self._ws.ping()
            await asyncio.wait_for(pong, seconds)
        except (ConnectionClosed, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        await self._ws.close()
