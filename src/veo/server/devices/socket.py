"""``/ws/device``: an enrolled device's one socket, from its challenge to its close.

0. the socket takes a place among its address group's authentications in progress, and each
   hello is counted as a refusal until its key is proven (``auth_limit.py``): too many in
   progress, or too many refused, closes it with 1013 without a database read;
1. the server sends ``device_challenge`` (a fresh 32-byte nonce for this socket, ``auth.py``);
2. the device has :data:`~veo.protocol.device.CHALLENGE_SECONDS` to answer ``device_hello``
   signed over ``auth_payload(nonce, device_id, origin)``; anything else, too late, a key that
   does not verify, an unknown or revoked device: ``device_refused{reason, forget}``, the socket
   closed (:data:`CLOSE_REFUSED`) and the refusal audited (``device.auth_refused``, aggregated
   per address group and window by ``line.DeviceLine.refused``);
3. accepted: the socket becomes the device's (replacing an older one on any node), the database
   hears of it (``presence.py``), the device gets ``device_welcome``;
4. then ``device_heartbeat`` (noted in memory), ``session_launch`` (``line.DeviceLine.launched``)
   and ``device_unenrol`` (revoked, told, closed). A message that does not parse is ignored: the
   device is authenticated and a newer agent may send what this server does not know yet.

The handler is the only task a device costs; everything else reaches the socket through the line.
A browser page of another site is refused before the socket is accepted (``from_own_pages``), as
on the other sockets: a device sends no ``Origin``.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from fastapi import APIRouter, Depends, WebSocket

from veo.protocol.base import ProtocolError
from veo.protocol.device import (
    DeviceHeartbeat,
    DeviceHello,
    DeviceRefused,
    DeviceUnenrol,
    DeviceWelcome,
    RefusedReason,
    SessionLaunch,
    parse_device_message,
)
from veo.server.addresses import client_address
from veo.server.db import unavailable
from veo.server.devices.auth import Challenge, KnownDevice, server_origins
from veo.server.devices.line import DeviceLine, device_line
from veo.server.devices.models import Device
from veo.server.devices.presence import DeviceConnection
from veo.server.devices.text import clean
from veo.server.handlers import CLOSE_TRY_AGAIN_LATER
from veo.server.sessions.ratelimit import LimiterUnavailable, Slot
from veo.server.sessions.sockets import from_own_pages
from veo.server.sessions.wire import CLOSE_NORMAL, Peer

log = logging.getLogger(__name__)

router = APIRouter()

#: The socket closes with this after ``device_refused``.
CLOSE_REFUSED = 4401


@router.websocket("/ws/device", dependencies=[Depends(from_own_pages)])
async def device_socket(websocket: WebSocket) -> None:
    await serve(device_line(websocket.app), websocket)


def _found(s: Any, device_id: str, organization: str) -> tuple[KnownDevice, DeviceWelcome] | None:
    device = s.get(Device, device_id)
    if device is None:
        return None
    known = KnownDevice(device.id, device.public_key, device.revoked_at is not None)
    # stored names cleaned by the protocol's rule (text.py): none can close the device for good
    welcome = DeviceWelcome(
        device_name=clean(device.name, 120),
        group=clean(device.group.name, 120),
        policy=device.group.policy,
        organization=clean(organization, 120),
    )
    return known, welcome


async def serve(line: DeviceLine, websocket: WebSocket) -> None:
    """One device socket (see the module's docstring); never raises."""
    await websocket.accept()
    peer = Peer(websocket)
    address = client_address(websocket)
    challenge = Challenge(seconds=line.challenge_seconds)
    conn: DeviceConnection | None = None
    code = CLOSE_NORMAL
    try:
        slot = await _place(line, address)
        if slot is None:
            code = CLOSE_TRY_AGAIN_LATER
            return
        try:
            await peer.send(challenge.message())
            conn = await _authenticate(line, peer, websocket, address, challenge, slot)
        finally:
            await line.auth_limiter.leave(slot)  # a connected device holds no place
        if conn is not None:
            await _serve_device(line, conn)
    except Exception as exc:
        # the database down: one line per socket, and the device tries again later (1013)
        unavailable.log_failure(log, "a device socket", exc)
        if unavailable.is_unavailable(exc):
            code = CLOSE_TRY_AGAIN_LATER
    finally:
        if conn is not None:
            await line.presence.gone(conn)
        await peer.close(code)


async def _place(line: DeviceLine, address: str) -> Slot | None:
    """A place among the address group's authentications in progress; None: too many, or the
    limiter's shared store is down (closed with 1013: the device tries again after its backoff)."""
    try:
        slot = await line.auth_limiter.enter(address)
    except LimiterUnavailable as exc:
        log.warning("device authentication refused: the limiter is unavailable (%s)", exc)
        return None
    if slot is None:
        log.debug("too many device authentications in progress from %s", address)
    return slot


async def _counted(line: DeviceLine, slot: Slot, address: str) -> bool:
    """Count this hello as a failure now (forgiven once the key is proven); False when the
    address group is over its refusals: then nothing is looked up (``auth_limit.py``)."""
    try:
        decision = await line.auth_limiter.attempt(slot)
    except LimiterUnavailable as exc:
        log.warning("device authentication refused: the limiter is unavailable (%s)", exc)
        return False
    if not decision.allowed:
        line.throttled += 1
        log.info("device authentications from %s are held back: too many were refused", address)
        return False
    return True


async def _authenticate(
    line: DeviceLine, peer: Peer, websocket: WebSocket, address: str, challenge: Challenge, slot: Slot
) -> DeviceConnection | None:
    """The hello checked; the device's connection, or None (refused, or gone before it answered)."""
    raw: str | bytes | None = None
    with anyio.move_on_after(challenge.remaining()) as waited:
        raw = await peer.receive()
    if waited.cancelled_caught:
        await _refuse(line, peer, address, "challenge_expired", "", forget=False)
        return None
    if raw is None:
        return None  # left without a word: nothing proven, nothing to refuse
    try:
        hello = parse_device_message(raw)
    except ProtocolError:
        hello = None
    if not isinstance(hello, DeviceHello):
        await _refuse(line, peer, address, "malformed", "", forget=False)
        return None
    if not await _counted(line, slot, address):
        await peer.close(CLOSE_TRY_AGAIN_LATER)
        return None
    organization = line.settings.organization
    found = await line.db.run(lambda s: _found(s, hello.device_id, organization))
    verdict = challenge.answer(hello, found[0] if found else None, server_origins(line.settings, websocket))
    if verdict.refused is not None or found is None:
        await _refuse(
            line, peer, address, verdict.refused or "unknown_device", hello.device_id, forget=verdict.forget
        )
        return None
    await line.auth_limiter.forgive(slot)  # the key is proven: no failure of its address group
    conn = DeviceConnection(hello.device_id, peer, address, os_user=hello.os_user)
    await line.connected(conn)
    if not await line.presence.connected(hello):  # revoked while its key was being checked
        line.presence.release(conn)
        await _refuse(line, peer, address, "revoked", hello.device_id, forget=True)
        return None
    await peer.send(found[1])
    return conn


async def _refuse(
    line: DeviceLine, peer: Peer, address: str, reason: RefusedReason, device_id: str, *, forget: bool
) -> None:
    try:
        await line.refused(address, reason, device_id)
    except Exception:
        log.exception("auditing a refused device failed")
    try:
        await peer.send(DeviceRefused(reason=reason, forget=forget))
    except Exception:
        log.debug("the refused device left first", exc_info=True)
    await peer.close(CLOSE_REFUSED)


async def _serve_device(line: DeviceLine, conn: DeviceConnection) -> None:
    while (raw := await conn.peer.receive()) is not None:
        try:
            message = parse_device_message(raw)
        except ProtocolError as exc:
            log.debug("device %s sent a message this server does not take: %s", conn.device_id, exc.code)
            continue
        try:
            if isinstance(message, DeviceHeartbeat):
                line.presence.heard(conn, message.os_user)
            elif isinstance(message, SessionLaunch):
                await line.launched(conn, message)
            elif isinstance(message, DeviceUnenrol):
                await line.unenrol(conn)
                return
            # a second device_hello proves nothing more: ignored
        except Exception as exc:
            unavailable.log_failure(log, f"device {conn.device_id}: its {message.type}", exc)
