"""STUN/TURN URLs (``VEO_TURN_URLS``): which kind each is, and which ones each peer gets.

Shared by the settings (a bad URL stops start-up with a message naming the variable) and the
server's ``sessions/ice.py`` (what each peer is handed). Why the two orders below:

* **A browser** (the console, or the join page when the user shares from a browser) gets every
  URL, ordered ``stun:``, ``turn:`` over UDP, ``turn:?transport=tcp``, ``turns:``: browsers gather
  from all of them; UDP comes first (no head-of-line blocking), then TCP, then TLS on 443 for
  firewalls that pass nothing but HTTPS.
* **The agent** gets ONE ``stun:`` and ONE TURN URL, because aiortc uses only the first of each
  and ignores the rest. Its TURN URL is, in this order of preference, ``turns:``, then
  ``turn:?transport=tcp``, then ``turn:`` over UDP: the agent already reaches the veo server over
  HTTPS from the user's network, so TLS over TCP is the one relay path known to pass wherever the
  agent works at all. Where UDP is open the agent needs no relay of its own: its host and STUN
  candidates meet the browser's relay candidates (coturn relays to them).
"""

from __future__ import annotations

import re

#: ``scheme:host[:port][?transport=udp|tcp]``; the grammar aiortc parses (``rtcicetransport.py``).
_URL = re.compile(
    r"(?P<scheme>stuns?|turns?):(?P<host>\[[0-9A-Fa-f:.]+\]|[^?:\[\]/\s]+)(?::(?P<port>[0-9]{1,5}))?"
    r"(?:\?transport=(?P<transport>udp|tcp))?"
)
BROWSER_ORDER = ("stun", "turn-udp", "turn-tcp", "turns")
AGENT_TURN_ORDER = ("turns", "turn-tcp", "turn-udp")


class IceUrlError(ValueError):
    """A STUN/TURN URL that no peer could use."""


def url_kind(url: str) -> str:
    """``stun``, ``turn-udp``, ``turn-tcp`` or ``turns``; :class:`IceUrlError` if not a usable URL."""
    match = _URL.fullmatch(url.strip())
    if match is None:
        raise IceUrlError(
            f"{url[:80]!r} is not a STUN/TURN URL (e.g. stun:turn.example.org:3478, "
            "turn:turn.example.org:3478, turn:turn.example.org:3478?transport=tcp, "
            "turns:turn.example.org:443?transport=tcp)"
        )
    scheme, transport, port = match["scheme"], match["transport"], match["port"]
    if port is not None and not 0 < int(port) < 65536:
        raise IceUrlError(f"{url[:80]!r}: port {port} is out of range")
    if scheme in ("stun", "stuns"):
        if transport is not None:
            raise IceUrlError(f"{url[:80]!r}: a STUN URL takes no transport")
        return "stun"
    if scheme == "turns":
        if transport == "udp":  # TURN over DTLS: neither aiortc nor browsers speak it
            raise IceUrlError(f"{url[:80]!r}: turns: runs over TCP (?transport=tcp or nothing)")
        return "turns"
    return "turn-tcp" if transport == "tcp" else "turn-udp"


def browser_urls(urls: list[str]) -> list[str]:
    """Every URL: STUN first, then TURN over UDP, over TCP, over TLS (stable within a kind)."""
    return sorted(urls, key=lambda url: BROWSER_ORDER.index(url_kind(url)))


def agent_turn_url(urls: list[str]) -> str | None:
    """The one TURN URL aiortc will use: TLS first, then TCP, then UDP (see the module's text)."""
    for kind in AGENT_TURN_ORDER:
        for url in urls:
            if url_kind(url) == kind:
                return url
    return None


def agent_urls(urls: list[str]) -> list[str]:
    """At most one STUN URL and one TURN URL: exactly what aiortc will use."""
    stun = next((url for url in urls if url_kind(url) == "stun"), None)
    return [url for url in (stun, agent_turn_url(urls)) if url is not None]


#: RFC 7064/7065 default ports: 3478 for stun: and turn:, 5349 for turns: (TLS).
DEFAULT_PORTS = {"stun": 3478, "turn-udp": 3478, "turn-tcp": 3478, "turns": 5349}


def address(url: str) -> tuple[str, int]:
    """``(host, port)`` a URL names (brackets of an IPv6 address removed; default port by kind).

    ``veo doctor`` contacts each configured server with it; one parser for the URL grammar above.
    """
    kind = url_kind(url)
    match = _URL.fullmatch(url.strip())
    assert match is not None  # url_kind accepted it
    port = int(match["port"]) if match["port"] else DEFAULT_PORTS[kind]
    return match["host"].strip("[]"), port
