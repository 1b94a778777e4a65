"""Server address -> WebSocket URL, and the refusal of plain text outside loopback."""

from __future__ import annotations

import pytest

from veo.agent.main import main
from veo.agent.urls import ServerUrlError, agent_ws_url
from veo.i18n import gettext_for
from veo.protocol import codes


@pytest.mark.parametrize(
    ("server", "url"),
    [
        ("https://support.example.org", "wss://support.example.org/ws/agent"),
        ("https://support.example.org/", "wss://support.example.org/ws/agent"),
        ("https://example.org:8443/veo/", "wss://example.org:8443/veo/ws/agent"),
        ("wss://example.org", "wss://example.org/ws/agent"),
        ("http://localhost:8000", "ws://localhost:8000/ws/agent"),
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/ws/agent"),
        ("http://127.1.2.3", "ws://127.1.2.3/ws/agent"),
        ("http://[::1]:8000", "ws://[::1]:8000/ws/agent"),
        ("ws://127.0.0.1:9", "ws://127.0.0.1:9/ws/agent"),
    ],
)
def test_ws_url(server: str, url: str) -> None:
    assert agent_ws_url(server) == url


@pytest.mark.parametrize(
    "server",
    [
        "http://support.example.org",
        "ws://10.0.0.5:8000",
        "http://192.168.1.10",
        "http://localhost.evil.example",
        "http://128.0.0.1",
        "ftp://example.org",
        "support.example.org",
        "https://",
        "https://example.org:99999",
    ],
)
def test_refused(server: str) -> None:
    with pytest.raises(ServerUrlError):
        agent_ws_url(server)


def test_refusal_message_is_specific_and_translated() -> None:
    with pytest.raises(ServerUrlError, match="https://"):
        agent_ws_url("http://support.example.org")
    with pytest.raises(ServerUrlError) as info:
        agent_ws_url("http://support.example.org", "es")
    assert str(info.value) != ""


def test_command_exits_2_on_plain_http(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--server", "http://support.example.org", "--code", "123456789", "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "unencrypted" in err and "Traceback" not in err


def test_command_exits_2_on_bad_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--server", "https://support.example.org", "--code", "12345", "--lang", "es"]) == 2
    assert capsys.readouterr().err == "veo agent: " + codes.format_text(gettext_for("es").gettext) + "\n"
