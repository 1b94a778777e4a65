"""The real ``veo agent enrol | service | unenrol`` processes against a real ``veo server``.

The server is uvicorn on a loopback port (``live_server.serving``: plain http is allowed there);
the agent runs as separate processes exactly as IT runs it, with ``--state-dir`` in the test's
folder. The container has no logind and no display, so a session request meets "nobody signed in"
(``no_desktop``): the server ends the session as ``device_unavailable``, and the device's history
says who asked, why, under which policy, and what happened. Starting a session part on a real
desktop is the end-to-end tests' (tests/e2e/test_devices.py).

No timed assertions: every wait is a condition polled until it holds, with a generous bound.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tests.integration.devices.device_support import make_group, make_token
from tests.integration.live_server import serving
from tests.support import api_token, make_user

from veo.agent.device import device_history, state
from veo.server.devices.models import Device
from veo.server.sessions.models import RemoteSession

pytestmark = pytest.mark.timeout(120)

TECH = "tech@example.org"


def agent_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", state.STATE_DIR_ENV)
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def run_agent(*words: str, stdin: str = "") -> tuple[int, str, str]:
    """``veo agent WORDS``; ``stdin``: what it reads there (the token with ``--token -``)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "veo", "agent", *words,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=agent_env(),
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def until(what: Callable[[], bool] | Callable[[], Awaitable[bool]], seconds: float = 60) -> None:
    async with asyncio.timeout(seconds):
        while True:
            result = what()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.1)


def device_row(app: FastAPI, device_id: str) -> Device:
    with app.state.db.session() as s:
        device = s.get(Device, device_id)
        assert device is not None
        s.expunge(device)
        return device


async def ready(client: httpx.AsyncClient) -> None:
    """The app migrates its database on startup: wait for it before writing to it."""

    async def up() -> bool:
        return (await client.get("/readyz")).status_code == 200

    await until(up)


async def enrol(app: FastAPI, base: str, directory: Path, *, policy: str = "ask") -> state.DeviceConfig:
    async with httpx.AsyncClient(base_url=base) as client:
        await ready(client)
    _, secret = make_token(app, make_group(app, "Reception", policy=policy))
    code, out, err = await run_agent(
        "enrol", "--server", base, "--token", "-", "--state-dir", str(directory),
        "--name", "reception-01", "--lang", "en", "--no-start", stdin=secret + "\n",
    )  # fmt: skip
    assert code == 0, err
    assert "Warning" not in err  # the token came on standard input (review R1-3)
    assert "This computer is now managed by ACME" in out
    said = {"ask": "you will be asked first", "notify": "You will see at once who connected and why"}
    assert said[policy] in out
    assert "veo agent --history" in out and "veo agent unenrol" in out
    config = state.read_config(directory)
    assert config is not None
    return config


async def test_enrol_serve_a_request_and_forget_when_revoked(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    async with (
        serving(tmp_path, "device-server", organization="ACME") as (base, app),
        httpx.AsyncClient(base_url=base) as client,
    ):
        await ready(client)
        config = await enrol(app, base, directory)
        assert stat.S_IMODE((directory / state.KEY_NAME).stat().st_mode) == 0o600
        assert stat.S_IMODE((directory / state.CONFIG_NAME).stat().st_mode) == 0o600
        row = device_row(app, config.device_id)
        assert (row.name, row.revoked_at) == ("reception-01", None)
        assert (config.organization, config.group, config.policy) == ("ACME", "Reception", "ask")

        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "veo", "agent", "service", "--state-dir", str(directory), "-v",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=agent_env(),
        )  # fmt: skip
        try:
            await until(lambda: device_row(app, config.device_id).connected_node is not None)
            online = device_row(app, config.device_id)
            assert online.agent_version and online.os_name

            make_user(app.state.db, TECH, name="Tom Tech", role="technician")
            headers = await api_token(client, TECH)
            response = await client.post(
                f"/api/v1/devices/{config.device_id}/sessions",
                json={"reason": "The printer queue is stuck"},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            session_id = response.json()["id"]

            def ended() -> bool:
                with app.state.db.session() as s:
                    session = s.get(RemoteSession, session_id)
                    return session is not None and session.end_reason == "device_unavailable"

            await until(ended)
            [event] = [e for e in device_history.read([directory]).events if e.kind == "session_request"]
            assert (event.technician, event.reason, event.policy, event.problem) == (
                "Tom Tech", "The printer queue is stuck", "ask", "no_desktop",
            )  # fmt: skip
            assert event.session_id == session_id

            from veo.server.devices import service as devices
            from veo.server.devices.line import device_line

            with app.state.db.session() as s:
                devices.revoke_device(s, config.device_id, by="server", actor="root@example.org")
            await device_line(app).revoked(config.device_id)
            assert await asyncio.wait_for(service.wait(), 60) == 0
        finally:
            if service.returncode is None:
                service.terminate()
                await service.wait()
    assert not (directory / state.KEY_NAME).exists()
    assert not (directory / state.CONFIG_NAME).exists()
    kinds = [(e.kind, e.detail) for e in device_history.read([directory]).events]
    assert kinds[0] == ("unenrolled", "server")
    assert ("enrolled", "") in kinds


async def test_unenrol_tells_the_server_which_revokes_the_key(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    async with serving(tmp_path, "device-server", organization="ACME") as (base, app):
        config = await enrol(app, base, directory, policy="notify")
        code, out, err = await run_agent("unenrol", "--state-dir", str(directory), "--lang", "en")
        assert code == 0, err
        assert "no longer managed" in out
        assert device_row(app, config.device_id).revoked_at is not None
        code, out, _err = await run_agent("unenrol", "--state-dir", str(directory), "--lang", "en")
        assert code == 0 and "not enrolled" in out
    assert not (directory / state.KEY_NAME).exists()
    assert device_history.read([directory]).events[0].detail == "device"


async def test_unenrol_with_the_server_gone_forgets_locally_and_says_so(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    async with serving(tmp_path, "device-server", organization="ACME") as (base, app):
        await enrol(app, base, directory)
    code, out, err = await run_agent("unenrol", "--state-dir", str(directory), "--lang", "en")
    assert code == 0, err
    assert "could not be told" in out and "until an administrator revokes it" in out
    assert not (directory / state.KEY_NAME).exists()
    assert device_history.read([directory]).events[0].detail == "local"


async def test_a_second_enrolment_with_the_same_token_is_refused(tmp_path: Path) -> None:
    async with serving(tmp_path, "device-server", organization="ACME") as (base, app):
        _, secret = make_token(app, make_group(app, "Reception"))
        first = await run_agent(
            "enrol", "--server", base, "--token", secret, "--state-dir", str(tmp_path / "a"), "--no-start"
        )
        assert first[0] == 0, first[2]
        code, _out, err = await run_agent(
            "enrol",
            "--server",
            base,
            "--token",
            secret,
            "--state-dir",
            str(tmp_path / "b"),
            "--lang",
            "en",
            "--no-start",
        )
        assert code == 1
        assert "The server refused the enrolment" in err
        assert "other users of this computer" in err  # --token T still works, with its warning
        assert not (tmp_path / "b" / state.KEY_NAME).exists()  # no key left behind


async def test_enrol_refuses_plain_http_to_another_computer(tmp_path: Path) -> None:
    code, _out, err = await run_agent(
        "enrol", "--server", "http://support.example", "--token", "veo-enrol-" + "a" * 32,
        "--state-dir", str(tmp_path), "--lang", "en",
    )  # fmt: skip
    assert code == 2 and "unencrypted" in err
    assert not (tmp_path / state.KEY_NAME).exists()


def test_the_test_machine_has_no_logind_display() -> None:
    # what the no_desktop expectation above relies on (a desktop here would start a real session part)
    assert not os.environ.get("VEO_AGENT_DISPLAY")
    assert socket.gethostname()


async def test_unenrol_while_the_service_runs_ends_both(tmp_path: Path) -> None:
    """The person at the computer unenrols while the service holds the socket: the unenrol's socket
    takes the device's place (the server closes the service's with 4409), the server revokes the
    key, the computer forgets it, and the service, seeing its key gone, stops with 0."""
    directory = tmp_path / "state"
    async with serving(tmp_path, "device-server", organization="ACME") as (base, app):
        config = await enrol(app, base, directory)
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "veo", "agent", "service", "--state-dir", str(directory),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=agent_env(),
        )  # fmt: skip
        try:
            await until(lambda: device_row(app, config.device_id).connected_node is not None)
            code, out, err = await run_agent("unenrol", "--state-dir", str(directory), "--lang", "en")
            assert code == 0, err
            assert "no longer managed" in out
            assert await asyncio.wait_for(service.wait(), 60) == 0
            assert service.stderr is not None
            said = (await service.stderr.read()).decode()
            assert "took its place" in said and "device key is gone" in said
        finally:
            if service.returncode is None:
                service.terminate()
                await service.wait()
        assert device_row(app, config.device_id).revoked_at is not None
    kinds = [(e.kind, e.detail) for e in device_history.read([directory]).events]
    assert kinds.count(("unenrolled", "device")) == 1 and ("unenrolled", "server") not in kinds
