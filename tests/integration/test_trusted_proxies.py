"""Behind a trusted reverse proxy, each forwarded client has its own limits and audit address.

The real app (``create_app``) with ``VEO_TRUSTED_PROXIES`` naming the test client's address
(127.0.0.1, as the reverse proxy in front of veo would be): sign-in failures and wrong join codes
from one forwarded client slow that client only, the audit log names it, and a client that
writes its own ``X-Forwarded-For`` without a trusted proxy in between changes nothing.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.exceptions import StarletteDeprecationWarning
from tests.support import BASE_URL, PASSWORD, make_user

from veo.config import Settings
from veo.server.app import create_app
from veo.server.audit.models import AuditEvent
from veo.server.sessions.hub import SignalingHub

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

pytestmark = pytest.mark.timeout(120)
PROXY = "127.0.0.1"


@asynccontextmanager
async def _serving(database_url: str, tmp_path: Path, trusted: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, public_url=BASE_URL, trusted_proxies=trusted
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        make_user(app.state.db)
        transport = httpx.ASGITransport(app=app, client=(PROXY, 51000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def _sign_in(client: httpx.AsyncClient, forwarded: str, password: str) -> int:
    response = await client.post(
        "/api/v1/auth/token",
        json={"email": "tech@example.org", "password": password},
        headers={"x-forwarded-for": forwarded},
    )
    return response.status_code


def _addresses(app: FastAPI) -> set[str]:
    with app.state.db.session() as s:
        return set(s.scalars(select(AuditEvent.address).where(AuditEvent.action.like("auth.%"))))


async def test_a_guesser_behind_the_proxy_slows_only_itself(database_url: str, tmp_path: Path) -> None:
    async with _serving(database_url, tmp_path, f"{PROXY}, 10.0.0.0/8") as client:
        # the guesser also writes a fake address of its own on the left, and passes an inner proxy
        statuses = [
            await _sign_in(client, "192.0.2.66, 203.0.113.5, 10.1.2.3", "wrong password!") for _ in range(5)
        ]
        assert statuses[:3] == [401, 401, 401] and statuses[-1] == 429
        assert await _sign_in(client, "203.0.113.5", PASSWORD) == 429  # still slowed
        assert await _sign_in(client, "203.0.113.6", PASSWORD) == 200  # its neighbour is not
        addresses = _addresses(client.app)  # type: ignore[attr-defined]
        assert "203.0.113.5" in addresses and "203.0.113.6" in addresses
        assert not addresses & {PROXY, "192.0.2.66", "10.1.2.3"}


async def test_without_trusted_proxies_the_header_changes_nothing(database_url: str, tmp_path: Path) -> None:
    async with _serving(database_url, tmp_path, "") as client:
        statuses = [await _sign_in(client, f"203.0.113.{i}", "wrong password!") for i in range(5)]
        assert statuses[-1] == 429  # five "different" clients were one address all along
        assert await _sign_in(client, "203.0.113.99", PASSWORD) == 429
        assert _addresses(client.app) == {PROXY}  # type: ignore[attr-defined]


async def test_a_source_that_is_not_a_trusted_proxy_cannot_name_a_client(
    database_url: str, tmp_path: Path
) -> None:
    async with _serving(database_url, tmp_path, "10.0.0.0/8") as client:
        statuses = [await _sign_in(client, f"203.0.113.{i}", "wrong password!") for i in range(5)]
        assert statuses[-1] == 429
        assert _addresses(client.app) == {PROXY}  # type: ignore[attr-defined]


@pytest.fixture
def proxied(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"trusted_proxies": PROXY}))
    hub: SignalingHub = app.state.hub

    async def no_sleep(seconds: float) -> None:
        return None

    hub.sleep = no_sleep  # the growing delay is the limiter's decision; not waited for here
    with TestClient(app, client=(PROXY, 51000)) as client:
        yield client


def _join(client: TestClient, forwarded: str, code: str) -> Any:
    with client.websocket_connect("/ws/agent", headers={"x-forwarded-for": forwarded}) as ws:
        ws.send_text(
            json.dumps({"v": 1, "type": "join", "code": code, "platform": "linux", "language": "en"})
        )
        return ws.receive_json()["code"]


def test_wrong_join_codes_block_only_the_forwarded_client(proxied: TestClient) -> None:
    answers = [_join(proxied, "203.0.113.5", f"{300000000 + guess}") for guess in range(7)]
    assert answers[0] == "code_unknown" and answers[-1] == "rate_limited"
    assert _join(proxied, "203.0.113.6", "300000100") == "code_unknown"  # checked, not refused
