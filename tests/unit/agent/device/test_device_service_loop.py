"""The service's loop against a tiny stand-in ``/ws/device`` server (a real WebSocket on loopback):
the signed hello, heartbeats, reconnecting after a drop, and forgetting on revocation or refusal."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from websockets.asyncio.server import ServerConnection, serve

from veo.agent.device import device_history, keys, state
from veo.agent.device import service as service_module
from veo.agent.device.backoff import JitterBackoff
from veo.agent.device.desktop_seat import Desktop
from veo.agent.device.link import Link, open_link
from veo.agent.device.service import DeviceService, ServiceOptions
from veo.protocol.device import auth_payload

NONCE = "ab" * 32
Script = Callable[[ServerConnection, int], "asyncio.Future[None] | object"]


def welcome() -> str:
    return json.dumps(
        {"type": "device_welcome", "device_name": "pc", "group": "G", "policy": "ask", "organization": "ACME"}
    )


class StandIn:
    """Answers each socket by the script for its number (0, 1, ...), recording what came in."""

    def __init__(self, public: Ed25519PublicKey, device_id: str) -> None:
        self.public = public
        self.device_id = device_id
        self.received: list[list[dict[str, object]]] = []
        self.origin = ""
        self.heartbeat = asyncio.Event()

    async def hello(self, ws: ServerConnection, heartbeat_seconds: int = 30) -> dict[str, object]:
        await ws.send(
            json.dumps({"type": "device_challenge", "nonce": NONCE, "heartbeat_seconds": heartbeat_seconds})
        )
        hello = json.loads(await ws.recv())
        self.received[-1].append(hello)
        payload = auth_payload(bytes.fromhex(NONCE), self.device_id, self.origin)
        self.public.verify(bytes.fromhex(hello["signature"]), payload)  # raises on a bad signature
        return hello  # type: ignore[no-any-return]


@asynccontextmanager
async def stand_in(
    tmp_path: Path, handler: Callable[[StandIn, ServerConnection, int], object]
) -> AsyncIterator[tuple[StandIn, DeviceService]]:
    key = keys.generate()
    keys.save(tmp_path, key)
    sockets: list[int] = []

    async def handle(ws: ServerConnection) -> None:
        number = len(sockets)
        sockets.append(number)
        server.received.append([])
        await handler(server, ws, number)  # type: ignore[misc]

    async with serve(handle, "127.0.0.1", 0) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        config = state.DeviceConfig(
            server=f"http://127.0.0.1:{port}",
            device_id="c" * 32,
            device_name="pc",
            organization="ACME",
            group="G",
            policy="ask",
            unattended=False,
            enrolled_at="2026-12-07T10:00:00+00:00",
            enrolled_by="Ana",
        )
        state.write_config(tmp_path, config)
        server = StandIn(key.public_key(), config.device_id)
        server.origin = f"http://127.0.0.1:{port}"

        async def no_desktop(display: str | None, user: str | None) -> Desktop | None:
            return None

        service = DeviceService(
            ServiceOptions(directory=tmp_path),
            config,
            key,
            None,
            find_desktop=no_desktop,
            backoff=JitterBackoff(uniform=lambda low, high: 0.0),
        )
        yield server, service


async def test_signed_hello_heartbeat_then_revoked_forgets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The challenge's interval is at least 5 s (the protocol's floor): the link must carry the
    # server's 5, then the beat waits a twentieth of a second instead of 5 real seconds.
    opened: list[int] = []

    async def quick_link(*args: Any, **kwargs: Any) -> Link:
        link = await open_link(*args, **kwargs)
        opened.append(link.heartbeat_seconds)
        return dataclasses.replace(link, heartbeat_seconds=0.05)  # type: ignore[arg-type]

    monkeypatch.setattr(service_module, "open_link", quick_link)

    async def handler(server: StandIn, ws: ServerConnection, number: int) -> None:
        hello = await server.hello(ws, heartbeat_seconds=5)
        assert hello["agent_version"] and "os_name" in hello
        await ws.send(welcome())
        server.received[-1].append(json.loads(await ws.recv()))  # the first heartbeat
        await ws.send(json.dumps({"type": "device_revoked"}))
        await ws.wait_closed()

    async with stand_in(tmp_path, handler) as (server, service):
        assert await asyncio.wait_for(service.run(), 60) == 0
    assert [m["type"] for m in server.received[0]] == ["device_hello", "device_heartbeat"]
    assert opened == [5]
    assert not (tmp_path / state.KEY_NAME).exists() and not (tmp_path / state.CONFIG_NAME).exists()
    (event,) = device_history.read([tmp_path]).events
    assert (event.kind, event.detail) == ("unenrolled", "server")


async def test_a_dropped_socket_comes_back_then_a_refusal_with_forget_ends_it(tmp_path: Path) -> None:
    async def handler(server: StandIn, ws: ServerConnection, number: int) -> None:
        if number == 0:
            await server.hello(ws)
            await ws.send(welcome())
            await ws.close()  # the node restarts
        elif number == 1:
            await ws.close()  # refused before anything (a proxy): try again
        else:
            await server.hello(ws)
            await ws.send(json.dumps({"type": "device_refused", "reason": "revoked", "forget": True}))
            await ws.wait_closed()

    async with stand_in(tmp_path, handler) as (server, service):
        assert await asyncio.wait_for(service.run(), 60) == 0
        assert service.connections == 1
        assert len(server.received) == 3
    assert not (tmp_path / state.KEY_NAME).exists()
    assert device_history.read([tmp_path]).events[0].kind == "unenrolled"


async def test_a_refusal_without_forget_keeps_trying(tmp_path: Path) -> None:
    async def handler(server: StandIn, ws: ServerConnection, number: int) -> None:
        await server.hello(ws)
        if number < 2:
            await ws.send(json.dumps({"type": "device_refused", "reason": "challenge_expired"}))
        else:
            await ws.send(json.dumps({"type": "device_refused", "reason": "unknown_device", "forget": True}))
        await ws.wait_closed()

    async with stand_in(tmp_path, handler) as (server, service):
        assert await asyncio.wait_for(service.run(), 60) == 0
        assert len(server.received) == 3
        assert service.backoff.attempts == 2  # no reset: none of them was a stable connection


async def test_a_session_request_is_answered_on_the_socket(tmp_path: Path) -> None:
    answers: list[dict[str, object]] = []

    async def handler(server: StandIn, ws: ServerConnection, number: int) -> None:
        await server.hello(ws)
        await ws.send(welcome())
        await ws.send(
            json.dumps(
                {
                    "type": "session_request",
                    "session_id": "s-9",
                    "code": "123456789",
                    "secret": "ab" * 32,
                    "policy": "ask",
                    "reason": "VPN",
                    "technician_name": "Tom",
                    "organization": "ACME",
                    "ticket_id": 3,
                    "ticket_title": "VPN",
                }
            )
        )
        answers.append(json.loads(await ws.recv()))
        await ws.send(json.dumps({"type": "device_revoked"}))
        await ws.wait_closed()

    async with stand_in(tmp_path, handler) as (_server, service):
        assert await asyncio.wait_for(service.run(), 60) == 0
    assert answers == [
        {"v": 1, "type": "session_launch", "session_id": "s-9", "ok": False, "problem": "no_desktop"}
    ]


async def test_a_key_deleted_under_the_service_ends_it_quietly(tmp_path: Path) -> None:
    async def handler(server: StandIn, ws: ServerConnection, number: int) -> None:
        await server.hello(ws)
        await ws.send(welcome())
        state.forget(tmp_path)  # ``veo agent unenrol`` with the server unreachable did this
        await ws.close()

    async with stand_in(tmp_path, handler) as (_server, service):
        assert await asyncio.wait_for(service.run(), 60) == 0
    assert device_history.read([tmp_path]).events == []  # unenrol writes its own line


async def test_replaced_by_a_newer_socket_waits_before_coming_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(server: StandIn, ws: ServerConnection, number: int) -> None:
        await server.hello(ws)
        await ws.send(welcome())
        if number == 0:
            await ws.close(4409)  # ``veo agent unenrol`` (or a second service) took the device's place
        else:
            await ws.send(json.dumps({"type": "device_revoked"}))
            await ws.wait_closed()

    async with stand_in(tmp_path, handler) as (server, service):
        service.replaced_seconds = 0.0
        assert await asyncio.wait_for(service.run(), 60) == 0
        assert len(server.received) == 2
    assert "another connection of this device took its place" in caplog.text


async def test_a_new_welcome_on_an_open_socket_updates_the_policy(tmp_path: Path) -> None:
    """R1-8: the server says again what the device is (its group's policy changed): kept,
    written to the history (no desktop here, so the person was not told: ``told`` stays)."""
    changed = json.dumps(
        {
            "type": "device_welcome",
            "device_name": "pc",
            "group": "G",
            "policy": "notify",
            "organization": "ACME",
        }
    )

    async def handler(server: StandIn, ws: ServerConnection, number: int) -> None:
        await server.hello(ws)
        await ws.send(welcome())
        await ws.send(changed)
        await ws.send(json.dumps({"type": "device_revoked"}))
        await ws.wait_closed()

    async with stand_in(tmp_path, handler) as (_server, service):
        assert await asyncio.wait_for(service.run(), 60) == 0
    assert service.config.policy == "notify" and service.config.told() == "ask"
    kinds = [(e.kind, e.previous_policy, e.policy, e.problem) for e in device_history.read([tmp_path]).events]
    assert ("policy_changed", "ask", "notify", "no_desktop") in kinds
