"""Trusted proxies: which address a request counts as, read from the right of the proxy header.

The middleware is driven with ASGI scopes as Uvicorn builds them; a stand-in app records the
``client`` the routes would see. The setting is checked the way ``veo server`` reads it.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest

from veo.config import Settings, parse_networks
from veo.server import main as server_main
from veo.server.proxies import TrustedProxies


async def _client_seen(
    trusted: str,
    peer: tuple[str, int] | None,
    headers: list[tuple[str, str]],
    header: str = "x-forwarded-for",
    kind: str = "http",
) -> Any:
    seen: list[Any] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["client"])

    middleware = TrustedProxies(app, parse_networks(trusted), header)
    scope = {
        "type": kind,
        "client": peer,
        "headers": [(name.encode(), value.encode()) for name, value in headers],
    }
    await middleware(scope, None, None)  # type: ignore[arg-type]
    return seen[0]


PROXY = ("10.0.0.2", 40000)


@pytest.mark.parametrize(
    ("trusted", "peer", "headers", "expected"),
    [
        # nothing trusted (the default): the header is ignored, as before
        ("", PROXY, [("x-forwarded-for", "203.0.113.5")], PROXY),
        # an untrusted source cannot name a client
        ("10.0.0.0/8", ("198.51.100.9", 1), [("x-forwarded-for", "203.0.113.5")], ("198.51.100.9", 1)),
        # one trusted proxy: the address it appended
        ("10.0.0.2", PROXY, [("x-forwarded-for", "203.0.113.5")], ("203.0.113.5", 0)),
        # what the client wrote itself (left) is never read
        ("10.0.0.2", PROXY, [("x-forwarded-for", "127.0.0.1, 192.0.2.1, 203.0.113.5")], ("203.0.113.5", 0)),
        # a chain of trusted proxies (a network) is walked from the right
        ("10.0.0.0/8", PROXY, [("x-forwarded-for", "192.0.2.1, 203.0.113.5, 10.9.9.9")], ("203.0.113.5", 0)),
        # header repeated on several lines counts as one list, in order
        (
            "10.0.0.0/8",
            PROXY,
            [("x-forwarded-for", "192.0.2.1"), ("x-forwarded-for", "203.0.113.5:4711")],
            ("203.0.113.5", 4711),
        ),
        # IPv6 forms and a mapped peer address
        (
            "10.0.0.2",
            ("::ffff:10.0.0.2", 5),
            [("x-forwarded-for", "[2001:db8::7]:443")],
            ("2001:db8::7", 443),
        ),
        ("fd00::/8", ("fd00::1", 5), [("x-forwarded-for", "2001:db8::7")], ("2001:db8::7", 0)),
        # not an address: the request stays the proxy's, never a made-up name
        ("10.0.0.2", PROXY, [("x-forwarded-for", "203.0.113.5, unknown")], PROXY),
        ("10.0.0.2", PROXY, [("x-forwarded-for", "")], PROXY),
        ("10.0.0.2", PROXY, [], PROXY),
        # every hop trusted: the left-most, itself a trusted address
        ("10.0.0.0/8", PROXY, [("x-forwarded-for", "10.1.1.1, 10.2.2.2")], ("10.1.1.1", 0)),
        # the header the proxies do not write is ignored (a client could forge it)
        ("10.0.0.2", PROXY, [("forwarded", "for=203.0.113.5")], PROXY),
    ],
)
async def test_x_forwarded_for(
    trusted: str, peer: tuple[str, int], headers: list[tuple[str, str]], expected: tuple[str, int]
) -> None:
    assert await _client_seen(trusted, peer, headers) == expected
    assert await _client_seen(trusted, peer, headers, kind="websocket") == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("forwarded", "for=192.0.2.1, for=203.0.113.5;proto=https")], ("203.0.113.5", 0)),
        ([("forwarded", 'for="[2001:db8:cafe::17]:4711";proto=https')], ("2001:db8:cafe::17", 4711)),
        ([("forwarded", "For=203.0.113.5"), ("forwarded", "for=10.3.3.3;by=10.0.0.2")], ("203.0.113.5", 0)),
        ([("forwarded", "for=_hidden")], PROXY),
        ([("forwarded", "proto=https")], PROXY),
        ([("x-forwarded-for", "203.0.113.5")], PROXY),
    ],
)
async def test_forwarded(headers: list[tuple[str, str]], expected: tuple[str, int]) -> None:
    assert await _client_seen("10.0.0.0/8", PROXY, headers, header="forwarded") == expected


def test_setting_accepts_addresses_and_networks() -> None:
    settings = Settings(
        trusted_proxies=" 10.0.0.5, 172.16.0.0/12,fd00::/8 ,", trusted_proxy_header="Forwarded"
    )
    assert settings.trusted_proxies == "10.0.0.5/32, 172.16.0.0/12, fd00::/8"
    assert [str(n) for n in settings.trusted_networks] == ["10.0.0.5/32", "172.16.0.0/12", "fd00::/8"]
    assert settings.trusted_proxy_header == "forwarded"
    assert Settings().trusted_networks == ()
    assert settings.trusted_networks is settings.trusted_networks  # parsed once, not on every read
    copy = settings.model_copy(update={"trusted_proxies": "192.0.2.0/24"})
    assert [str(n) for n in copy.trusted_networks] == ["192.0.2.0/24"]  # a copy reads its own value


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        ("VEO_TRUSTED_PROXIES", "10.0.0.0/8, proxy.example.org", "'proxy.example.org' is not an IP address"),
        ("VEO_TRUSTED_PROXIES", "10.0.0.300", "'10.0.0.300' is not an IP address"),
        ("VEO_TRUSTED_PROXY_HEADER", "x-real-ip", "trusted_proxy_header"),
    ],
)
def test_a_bad_proxy_setting_stops_veo_server_with_one_line(
    variable: str,
    value: str,
    needle: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exit_info:
        server_main.main([])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_veo_server_leaves_proxy_headers_to_veo(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Uvicorn's own proxy handling would believe X-Forwarded-For from 127.0.0.1 behind veo's back."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("VEO_TRUSTED_PROXIES", "127.0.0.1")
    assert server_main.main(["--data-dir", str(tmp_path)]) == 0
    assert calls and calls[0]["proxy_headers"] is False
    assert "forwarded_allow_ips" not in calls[0]
