"""Simulated peers: an agent and a console that speak the real signaling protocol, without media.

The agent connects as ``veo agent`` does (``veo.agent.signaling``: the same WebSocket options,
compression and keepalive pings included) and builds its messages with ``veo.protocol``; its
offer carries a real SAS commitment and a fixed SDP of a real offer's size, which the server
relays without reading. The console connects with the lead's cookie as the console page does.

Every simulated agent gets a source address of its own in 127.0.0.0/8: the server lets each
address group have only a few joins in flight (``sessions/ratelimit.py``), as it should for
real users, and ten thousand agents behind one address would be one flood to it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from veo import __version__
from veo.agent.signaling import CLOSE_TIMEOUT_SECONDS, PING_SECONDS, PING_TIMEOUT_SECONDS
from veo.protocol.base import MAX_MESSAGE_BYTES, Message
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Answer, Consent, Hangup, Join, Offer, Reveal
from veo.server.auth.cookies import PLAIN_NAME

#: How long one step may wait for its message before the peer gives up.
STEP_SECONDS = 30.0
#: How long a connection may take to open (the server may be busy accepting thousands).
OPEN_SECONDS = 60.0
#: An SDP of the size a real offer has (a video line, a data channel, ICE credentials,
#: candidates): the server relays it without parsing, so only its size matters here.
FAKE_SDP = (
    "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    + "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n" * 20
    + "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 H264/90000\r\n"
    + "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\n"
)  # fmt: skip


class PeerError(RuntimeError):
    """The server answered something else than the step expected (or nothing in time)."""


def source_address(index: int) -> str:
    """A distinct loopback address per peer: 127.1.0.1, 127.1.0.2, ... (15 million of them)."""
    return f"127.{1 + index // 62_500}.{index // 250 % 250}.{index % 250 + 1}"


async def open_agent(ws_base: str, index: int, *, compression: bool = True) -> ClientConnection:
    return await connect(
        ws_base + "/ws/agent",
        local_addr=(source_address(index), 0),
        max_size=MAX_MESSAGE_BYTES,
        open_timeout=OPEN_SECONDS,
        ping_interval=PING_SECONDS,
        ping_timeout=PING_TIMEOUT_SECONDS,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
        compression="deflate" if compression else None,
        proxy=None,
    )


async def open_console(ws_base: str, session_id: str, cookie: str) -> ClientConnection:
    return await connect(
        f"{ws_base}/ws/console?session={session_id}",
        additional_headers={"Cookie": f"{PLAIN_NAME}={cookie}"},
        max_size=MAX_MESSAGE_BYTES,
        open_timeout=OPEN_SECONDS,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
        proxy=None,
    )


async def send(ws: ClientConnection, message: Message) -> None:
    await ws.send(message.dumps())


async def expect(ws: ClientConnection, wanted: str) -> dict[str, Any]:
    """The next message of type ``wanted``; others (``session_state``, ...) are skipped; an
    ``error`` or ``ended`` fails the step with what the server said."""
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), STEP_SECONDS)
        except TimeoutError:
            raise PeerError(f"no {wanted} within {STEP_SECONDS:.0f} s") from None
        message: dict[str, Any] = json.loads(raw)
        kind = message.get("type")
        if kind == wanted:
            return message
        if kind in ("error", "ended"):
            detail = message.get("code") or message.get("reason") or ""
            raise PeerError(f"{kind} {detail} while waiting for {wanted}".replace("  ", " "))


def join(code: str) -> Join:
    return Join(code=code, agent_version=__version__, platform="bench")


def offer(commitment: str) -> Offer:
    return Offer(sdp=FAKE_SDP, commitment=commitment)


def answer(nonce_hex: str) -> Answer:
    return Answer(sdp=FAKE_SDP.replace("o=- 0 0", "o=- 1 1"), nonce=nonce_hex)


def reveal(nonce_hex: str) -> Reveal:
    return Reveal(nonce=nonce_hex)


def consent(requested: list[str]) -> Consent:
    return Consent(granted=[Permission(p) for p in requested], sas_confirmed=True)


def hangup() -> Hangup:
    return Hangup(reason="bench")
