"""ICE servers per peer: which URLs, in which order, and coturn REST credentials (issue 13 #1)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from pydantic import ValidationError

from veo.config import Settings
from veo.protocol.ice_urls import IceUrlError, agent_turn_url, agent_urls, browser_urls, url_kind
from veo.protocol.signaling import Joined, Offer
from veo.server.sessions.ice import CREDENTIAL_TTL_SECONDS, console_offer, ice_servers

STUN = "stun:turn.example.org:3478"
UDP = "turn:turn.example.org:3478"
TCP = "turn:turn.example.org:3478?transport=tcp"
TLS = "turns:turn.example.org:443?transport=tcp"
SECRET = "0123456789abcdef" * 4
NOW = 1_800_000_000.0


def settings(urls: list[str], secret: str | None = SECRET, policy: str = "all") -> Settings:
    return Settings(turn_urls=urls, turn_secret=secret, ice_transport_policy=policy)


def coturn_password(username: str) -> str:
    """What coturn computes with use-auth-secret (base64 of HMAC-SHA1(secret, username))."""
    return base64.b64encode(hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()).decode()


def test_url_kinds() -> None:
    assert [url_kind(u) for u in (STUN, UDP, TCP, TLS)] == ["stun", "turn-udp", "turn-tcp", "turns"]
    assert url_kind("turn:[2001:db8::1]:3478?transport=udp") == "turn-udp"
    assert url_kind("turns:turn.example.org") == "turns"
    for bad in ("http://turn.example.org", "turn:", "stun:host?transport=udp", "turns:h:443?transport=udp",
                "turn:host:70000", "turn:host:3478?transport=sctp", "turn:a b"):  # fmt: skip
        with pytest.raises(IceUrlError):
            url_kind(bad)


def test_browser_gets_every_url_udp_first_tls_last() -> None:
    assert browser_urls([TLS, TCP, UDP, STUN]) == [STUN, UDP, TCP, TLS]


def test_agent_gets_one_stun_and_one_turn_url_tls_first() -> None:
    # aiortc uses only the first STUN and the first TURN URL: the server sends exactly one of each
    assert agent_urls([UDP, TCP, TLS, STUN, "stun:other.example.org"]) == [STUN, TLS]
    assert agent_turn_url([UDP, TCP]) == TCP
    assert agent_turn_url([UDP]) == UDP
    assert agent_turn_url([STUN]) is None
    assert agent_urls([]) == []


def test_rest_credentials_per_peer_expire_within_ten_minutes() -> None:
    conf = settings([UDP, TLS, STUN])
    agent = ice_servers(conf, "sess-1", peer="agent", now=NOW)
    browser = ice_servers(conf, "sess-1", peer="browser", now=NOW)
    # STUN takes no credential: an entry of its own
    assert agent[0].urls == [STUN] and agent[0].username is None and agent[0].credential is None
    assert browser[0].urls == [STUN] and browser[0].credential is None
    assert agent[1].urls == [TLS]
    assert browser[1].urls == [UDP, TLS]
    expiry = int(NOW) + CREDENTIAL_TTL_SECONDS
    assert CREDENTIAL_TTL_SECONDS <= 600
    assert agent[1].username == f"{expiry}:sess-1.agent"
    assert browser[1].username == f"{expiry}:sess-1.browser"
    for server in (agent[1], browser[1]):
        assert server.username is not None
        assert server.credential == coturn_password(server.username)
    assert agent[1].credential != browser[1].credential


def test_without_secret_urls_only_and_without_urls_nothing() -> None:
    assert [s.model_dump() for s in ice_servers(settings([UDP, STUN], secret=None), "s")] == [
        {"urls": [STUN, UDP], "username": None, "credential": None}
    ]
    assert ice_servers(settings([]), "s") == []


def test_credential_never_in_a_repr() -> None:
    servers = ice_servers(settings([UDP]), "sess-1", peer="agent", now=NOW)
    password = servers[0].credential
    assert password
    joined = Joined(
        session_id="sess-1", organization="o", technician_name="t", ticket_id=1, ticket_title="x",
        requested=[], ice_servers=servers,
    )  # fmt: skip
    assert password not in repr(joined) and password not in str(joined) and password not in repr(servers)
    assert password in joined.dumps()  # it does go to the peer


def test_console_offer_carries_the_browser_servers_and_the_policy() -> None:
    offer = Offer(sdp="v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n", commitment="a" * 64)
    relayed = console_offer(settings([TLS, UDP], policy="relay"), "sess-1", offer)
    data = relayed.model_dump()
    assert data["type"] == "offer" and data["sdp"] == offer.sdp and data["commitment"] == "a" * 64
    assert data["ice_transport_policy"] == "relay"
    assert data["ice_servers"][0]["urls"] == [UDP, TLS]
    assert data["ice_servers"][0]["username"].endswith(":sess-1.browser")


def test_settings_refuse_bad_urls_and_relay_without_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="VEO_TURN_URLS"):
        Settings(turn_urls=["https://turn.example.org"])
    with pytest.raises(ValidationError, match="VEO_ICE_TRANSPORT_POLICY=relay needs"):
        Settings(turn_urls=[STUN], ice_transport_policy="relay")
    with pytest.raises(ValidationError):
        Settings(ice_transport_policy="direct")
    monkeypatch.setenv("VEO_TURN_URLS", f'["{TLS}", " {UDP} "]')
    monkeypatch.setenv("VEO_ICE_TRANSPORT_POLICY", "relay")
    read = Settings()
    assert read.turn_urls == [TLS, UDP] and read.ice_transport_policy == "relay"
