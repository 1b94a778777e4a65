"""Who the client is, and which clients count as one when limits are kept per address.

:func:`client_address` is the one place a request's address is read (limits, audit, sessions):
behind a trusted reverse proxy it is already the forwarding client, because
:mod:`veo.server.proxies` rewrote the connection's ``client`` before any route ran.

Every limit keyed by an address (join-code redemption, sign-in) groups addresses the same way, so
an attacker cannot pick the limit with the coarsest key: IPv4 as is, an IPv4-mapped IPv6 address
as its IPv4 address, other IPv6 addresses by their /64 (one host, or one home, usually owns a
whole /64 and can use any address in it).

:func:`address_prefix` is the coarser network a join-code limit also counts (IPv6 by /48, one end
site's assignment, which anyone can get for free from a tunnel broker or cheaply from a hosting
provider: 65,536 /64s). IPv4 has none: addresses are scarce and paid for one by one, and a /24 is
often shared by unrelated people (corporate NATs, carrier-grade NAT pools, cloud tenants).
"""

from __future__ import annotations

import ipaddress

from starlette.requests import HTTPConnection


def address_group(address: str) -> str:
    """The key a per-address limit counts ``address`` under; anything unparsable as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def address_prefix(address: str) -> str | None:
    """The IPv6 /48 holding ``address``; None for IPv4 (mapped or not) and anything unparsable."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network(f"{ip}/48", strict=False))
    return None


def client_address(connection: HTTPConnection) -> str:
    """The address of whoever sent this request or opened this WebSocket; "" when unknown."""
    return connection.client.host if connection.client else ""
