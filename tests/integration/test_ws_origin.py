"""The signaling WebSockets refuse a handshake that a browser made for another site's page.

The handshake carries the technician's cookie whatever page opened it, so ``/ws/console`` must
not serve ``http://evil.example`` (or a sandboxed ``null`` page); ``/ws/agent`` serves the native
agent (no ``Origin``) and veo's own browser share page, never another site's visitors. The real
app with a signed-in technician, through Starlette's TestClient.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning
from starlette.websockets import WebSocketDisconnect
from tests.support import BASE_URL, make_user

from veo.config import Settings
from veo.server.app import create_app
from veo.server.auth import service
from veo.server.auth.cookies import cookie_name

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

pytestmark = pytest.mark.timeout(120)
CONSOLE = "/ws/console?session=0f3c2a9e-1111-4222-8333-444455556666"  # no such session: 4404


def _signed_in(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, base_url=BASE_URL) as client:
        user = make_user(app.state.db, "tech@example.org").user
        with app.state.db.session() as s:
            token, _session = service.start_web_session(s, user)
        client.cookies.set(cookie_name(settings), token)
        yield client


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    yield from _signed_in(settings)


def _close_code(client: TestClient, path: str, headers: dict[str, str]) -> int:
    """How the server ends the socket: before accepting it or after its first checks."""
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(path, headers=headers) as ws,
    ):
        ws.receive_text()
    return closed.value.code


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "https://127.0.0.1:8000"},  # another scheme is another origin
        {"origin": "http://127.0.0.1:8001"},
        {"origin": "null"},  # a sandboxed frame or a file:// page
        {"origin": "null", "sec-fetch-site": "cross-site"},
        {"origin": "http://evil.example", "host": "evil.example"},  # DNS rebinding: the Host agrees
    ],
)
def test_console_socket_refuses_other_sites(client: TestClient, headers: dict[str, str]) -> None:
    assert _close_code(client, CONSOLE, headers) == 1008


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": BASE_URL},
        {"origin": "null", "sec-fetch-site": "same-origin"},  # our no-referrer pages, in Chromium
        {},  # not a browser: it can only use a cookie it holds itself
    ],
)
def test_console_socket_serves_its_own_pages(client: TestClient, headers: dict[str, str]) -> None:
    assert _close_code(client, CONSOLE, headers) == 4404  # past the origin check and the sign-in


def _join(client: TestClient, headers: dict[str, str]) -> str:
    """The type of the hub's answer to a join: the socket was served."""
    with client.websocket_connect("/ws/agent", headers=headers) as ws:
        ws.send_text(
            json.dumps({"v": 1, "type": "join", "code": "123456789", "platform": "linux", "language": "en"})
        )
        answer: str = ws.receive_json()["type"]
        return answer


def test_agent_socket_serves_the_agent_and_the_share_page_only(client: TestClient) -> None:
    assert _join(client, {}) == "error"  # the native agent sends no Origin; the code is wrong
    assert _join(client, {"origin": BASE_URL}) == "error"  # the browser share page
    assert _close_code(client, "/ws/agent", {"origin": "http://evil.example"}) == 1008


def test_without_a_public_url_the_address_the_browser_used_is_its_own(
    tmp_path: Path, database_url: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    assert "public_url" not in settings.model_fields_set
    for client in _signed_in(settings):
        assert _close_code(client, CONSOLE, {"origin": BASE_URL}) == 4404  # the default public URL
        own = {"origin": "http://localhost:9000", "host": "localhost:9000"}
        assert _close_code(client, CONSOLE, own) == 4404  # the address the browser used
        assert (
            _close_code(client, CONSOLE, {"origin": "http://evil.example", "host": "localhost:9000"}) == 1008
        )
