"""The real client behind a trusted reverse proxy, set once for every request and WebSocket.

TLS needs a reverse proxy in front of veo, and then every connection comes from the proxy's
address: without this, four failed sign-ins from anyone would slow everyone, five wrong join codes
would block every user, and the audit log would name the proxy. A proxy appends the address it
received the connection from to ``X-Forwarded-For`` (or ``Forwarded: for=``, RFC 7239), but a
client can write anything it likes in the same header first. So the header is read only when the
connection comes from a proxy the operator named (``VEO_TRUSTED_PROXIES``), and then from the
right: each trusted proxy's entry is skipped, and the first address that is not a trusted proxy is
the client, the last one a trusted proxy vouched for. Anything a client wrote further left is never
read. An entry that is not an address (``unknown``, an obfuscated ``_name``, garbage) stops the
walk at the proxy that wrote it: the request then counts as that proxy's, never as a made-up name.

Only one header is read, the one the operator's proxies write (``VEO_TRUSTED_PROXY_HEADER``):
reading both would let a client forge the one its proxy does not touch.

The result replaces ``scope["client"]`` in place, before anything else runs, so
:func:`veo.server.addresses.client_address`, the limits, the audit log, the sessions hub and
Uvicorn's access log all see the same client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from veo.config import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> IPAddress | None:
    """An address as written in a header or a socket (``::ffff:10.0.0.1`` counts as IPv4)."""
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def split_host_port(value: str) -> tuple[str, int]:
    """``1.2.3.4``, ``1.2.3.4:80``, ``[2001:db8::1]:80``, ``2001:db8::1`` -> host and port (0)."""
    value = value.strip().strip('"').strip()
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return value, 0
        host, rest = value[1:end], value[end + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() and len(port) <= 5 else 0
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, int(port) if port.isdigit() and len(port) <= 5 else 0
    return value, 0


def forwarded_for(element: str) -> str:
    """The ``for=`` value of one RFC 7239 element (``for=1.2.3.4;proto=https``); "" if none."""
    for pair in element.split(";"):
        name, sep, value = pair.partition("=")
        if sep and name.strip().lower() == "for":
            return value.strip()
    return ""


class TrustedProxies:
    """ASGI middleware: the client named by trusted proxies becomes ``scope["client"]``."""

    def __init__(
        self, app: ASGIApp, networks: Sequence[IPNetwork] = (), header: str = "x-forwarded-for"
    ) -> None:
        self.app = app
        self.networks = tuple(networks)
        self.header = header.lower().encode("latin-1")

    def trusts(self, ip: IPAddress) -> bool:
        return any(ip in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.networks and scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            ip = parse_ip(str(peer[0])) if peer else None
            if peer and ip is not None and self.trusts(ip):
                scope["client"] = self.client_of(scope, (str(peer[0]), int(peer[1])))
        await self.app(scope, receive, send)

    def client_of(self, scope: Scope, peer: tuple[str, int]) -> tuple[str, int]:
        """Right to left through the header: the first hop that is not a trusted proxy."""
        values = [value.decode("latin-1") for name, value in scope["headers"] if name == self.header]
        hops = ",".join(values).split(",") if values else []
        client = peer
        for hop in reversed(hops):
            text = forwarded_for(hop) if self.header == b"forwarded" else hop
            host, port = split_host_port(text)
            ip = parse_ip(host)
            if ip is None:
                return client  # not an address: it counts as the proxy that wrote it
            client = (str(ip), port)
            if not self.trusts(ip):
                return client
        return client
