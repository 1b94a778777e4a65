"""One authenticated ``/ws/device`` socket: connect, answer the challenge, get welcomed.

The service and ``veo agent unenrol`` both open the socket this way. The device speaks only
after the server's ``device_challenge``, and trusts the server no more than TLS lets it (the
agent's trust rules, ``agent/tls.py``; ``http`` only to this computer).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import ClientConnection

from veo import __version__
from veo.agent.device import addresses
from veo.agent.device.keys import sign_challenge
from veo.agent.device.state import DeviceConfig
from veo.agent.signaling import ChannelClosed, ConnectError, WebSocketChannel
from veo.agent.tls import client_context, is_untrusted_certificate
from veo.protocol.base import MAX_MESSAGE_BYTES, ProtocolError
from veo.protocol.device import (
    DeviceChallenge,
    DeviceHello,
    DeviceRefused,
    DeviceWelcome,
    ServerToDevice,
    parse_server_to_device,
)

#: How long the server may take to challenge, then to welcome.
ANSWER_SECONDS = 20.0
OPEN_SECONDS = 15.0
#: The device's own pings: enough to notice a dead path within a minute, cheap for a node holding
#: hundreds of idle devices (the server pings too; ``device_heartbeat`` carries the signed-in user).
PING_SECONDS = 30.0
PING_TIMEOUT_SECONDS = 20.0


class Refused(Exception):
    """The server refused the device (``device_refused``)."""

    def __init__(self, reason: str, forget: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.forget = forget


class Unexpected(Exception):
    """The server sent something out of order or unreadable (logged, then a new try)."""


#: The server closes an older socket of the same device with this code when a newer one authenticated.
CLOSE_REPLACED = 4409


class DeviceChannel(WebSocketChannel):
    """The agent's WebSocket channel, which also tells how the server closed it."""

    def __init__(self, connection: ClientConnection) -> None:
        super().__init__(connection)
        self.connection = connection

    @property
    def close_code(self) -> int | None:
        return self.connection.close_code


@dataclass
class Link:
    channel: DeviceChannel
    welcome: DeviceWelcome
    heartbeat_seconds: int


async def receive(channel: WebSocketChannel, within: float | None = None) -> ServerToDevice:
    """The next message (``TimeoutError`` after ``within`` seconds, if given)."""
    async with asyncio.timeout(within):
        raw = await channel.recv()
    try:
        return parse_server_to_device(raw)
    except (ProtocolError, ValueError) as exc:
        raise Unexpected(f"unreadable message from the server: {exc}") from None


async def connect_socket(url: str, tls: ssl.SSLContext | None) -> DeviceChannel:
    """The bare socket (``ConnectError`` when it cannot be opened; ``untrusted``: TLS refused)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidURI

    context = (tls or client_context()) if url.startswith("wss://") else None
    try:
        connection = await connect(
            url,
            ssl=context,
            max_size=MAX_MESSAGE_BYTES,
            open_timeout=OPEN_SECONDS,
            ping_interval=PING_SECONDS,
            ping_timeout=PING_TIMEOUT_SECONDS,
            close_timeout=2.0,
            proxy=None,
        )
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
        raise ConnectError(f"{type(exc).__name__}: {exc}", untrusted=is_untrusted_certificate(exc)) from None
    return DeviceChannel(connection)


async def open_link(
    config: DeviceConfig,
    key: Ed25519PrivateKey,
    tls: ssl.SSLContext | None,
    *,
    os_name: str = "",
    os_user: str = "",
) -> Link:
    """Connect and authenticate. Raises ``ConnectError`` (unreachable), :class:`Refused`,
    :class:`Unexpected`, ``ChannelClosed`` or ``TimeoutError``; closes the socket on failure."""
    url = addresses.device_ws_url(config.server)
    channel = await connect_socket(url, tls)
    try:
        first = await receive(channel, ANSWER_SECONDS)
        if isinstance(first, DeviceRefused):
            raise Refused(first.reason, first.forget)
        if not isinstance(first, DeviceChallenge):
            raise Unexpected(f"expected device_challenge, got {first.type}")
        hello = DeviceHello(
            device_id=config.device_id,
            signature=sign_challenge(key, first.nonce, config.device_id, addresses.origin(config.server)),
            agent_version=__version__,
            os_name=os_name[:120],
            os_user=os_user[:120],
        )
        await channel.send(hello.dumps())
        answer = await receive(channel, ANSWER_SECONDS)
        if isinstance(answer, DeviceRefused):
            raise Refused(answer.reason, answer.forget)
        if not isinstance(answer, DeviceWelcome):
            raise Unexpected(f"expected device_welcome, got {answer.type}")
        return Link(channel, answer, first.heartbeat_seconds)
    except BaseException:
        with contextlib.suppress(ChannelClosed, TimeoutError, OSError):
            await asyncio.wait_for(channel.close(), 3)
        raise
