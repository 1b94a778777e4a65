"""Where webhooks may connect: public addresses only, unless the operator names others.

A webhook URL is typed by an administrator, but the request is made by the server, from inside
the operator's network. Without a guard, an endpoint such as ``http://169.254.169.254/`` (cloud
metadata), ``http://10.0.0.1/`` or ``http://localhost:5432/`` turns the outbox into a probe of
that network. So every address a delivery would connect to must be public: not loopback,
private, shared (CGNAT), link-local, multicast, unspecified, reserved, documentation or
otherwise special, in IPv4 or IPv6, and not an IPv4-mapped, 6to4 or NAT64 IPv6 address that
embeds such an IPv4 address. ``VEO_WEBHOOK_ALLOW`` lists the exceptions an operator wants
(addresses, networks or exact host names), e.g. a helpdesk on the same private network.

The check is made twice, for two reasons:

- when an endpoint is saved, on what is visible without DNS (an IP literal in any spelling that
  the C library accepts, such as ``2130706433`` or ``0x7f.1``; ``localhost`` names; user names
  and passwords in the URL), so the administrator is told at once;
- when a delivery connects, on the addresses the name resolves to at that moment. The
  transport resolves the name once, checks every address, and connects to the checked address
  itself (:class:`GuardedBackend`), so a DNS answer that changes between check and connect
  (rebinding) cannot slip in. TLS still uses the name for SNI and certificate verification,
  because httpcore starts TLS on the returned stream with the URL's host name.

Redirects are never followed (a 3xx is a failed delivery), and no proxy from the environment is
used, so the address that was checked is the one that receives the request.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import socket
import ssl
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import httpcore
import httpx

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Resolve (host, port) to the addresses to try, in order (tests substitute a fake resolver).
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)
_NUMERIC = re.compile(r"^[0-9a-fx.]+$")


class AddressNotAllowed(Exception):
    """A delivery would have connected to an address the policy refuses; nothing was sent."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 (64:ff9b::/96) IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """True for an address on the public Internet; False for every special-purpose range."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_public(inner)
        if address.scope_id or address.is_site_local:
            return False
    special = (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    )
    return address.is_global and not special


def literal_address(host: str) -> IPAddress | None:
    """The IP address ``host`` spells, in any form the resolver accepts, or None for a name.

    ``inet_aton`` reads ``2130706433``, ``0x7f000001``, ``127.1`` and ``0177.0.0.1`` as
    127.0.0.1 (so does ``getaddrinfo``); the character check keeps it to numeric spellings.
    """
    text = host.strip("[]").lower().rstrip(".")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC.match(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def _name(host: str) -> str:
    return host.lower().rstrip(".")


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses, plus the networks and exact host names the operator allows."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, value: str) -> AddressPolicy:
        """``VEO_WEBHOOK_ALLOW``: comma-separated addresses, networks (CIDR) or host names."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for item in value.split(","):
            text = item.strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            if not _NAME.match(_name(text)):
                raise ValueError(
                    f"VEO_WEBHOOK_ALLOW: {text[:60]!r} is not an address, a network or a host name "
                    "(e.g. 10.0.0.5, 10.0.0.0/8, fd00::/8, helpdesk.internal; no ports)"
                )
            hosts.add(_name(text))
        return cls(tuple(networks), frozenset(hosts))

    def names_host(self, host: str) -> bool:
        return _name(host) in self.hosts

    def allows(self, address: IPAddress, host: str = "") -> bool:
        """True if a delivery to ``host`` may connect to ``address``."""
        if host and self.names_host(host):
            return True
        forms: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and (inner := embedded_ipv4(address)) is not None:
            forms.append(inner)
        if any(form in network for form in forms for network in self.networks):
            return True
        return is_public(address)

    def allows_host_statically(self, host: str) -> bool:
        """What can be judged without DNS: IP literals and ``localhost`` names (RFC 6761)."""
        if self.names_host(host):
            return True
        address = literal_address(host)
        if address is not None:
            return self.allows(address)
        name = _name(host)
        return not (name == "localhost" or name.endswith(".localhost"))


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` has now, in the resolver's order, without duplicates."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve once, refuse if any address is not allowed, connect to the checked address."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.resolver(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        refused = [a for a in addresses if not self.policy.allows(a, host)]
        if refused or not addresses:
            raise AddressNotAllowed(f"{host} resolves to {', '.join(map(str, refused)) or 'nothing'}")
        last: Exception | None = None
        for address in addresses:  # the checked addresses themselves: no second lookup
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressNotAllowed("webhooks do not use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a :class:`GuardedBackend` (httpx does not take a backend itself,
    so the connection pool it builds is replaced by the same pool with the guarded backend)."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or _system_ssl_context()
        super().__init__(verify=context, trust_env=False)  # its own pool, replaced just below
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context, network_backend=GuardedBackend(policy, resolver)
        )


@functools.cache
def _system_ssl_context() -> ssl.SSLContext:
    """httpx's default context (certifi's CAs), made once per process: loading the CA file took
    25-50 ms, twice for every app start (the outbox worker builds its client then), and an
    SSLContext is meant to be shared between connections."""
    return httpx.create_ssl_context(trust_env=False)


def guarded_client(
    policy: AddressPolicy, resolver: Resolver = system_resolver, ssl_context: ssl.SSLContext | None = None
) -> httpx.AsyncClient:
    """The client the outbox worker sends webhooks with: no redirects, no proxies, guarded.
    ``ssl_context`` (default: the system's trusted CAs) lets tests trust their own CA."""
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, resolver, ssl_context), follow_redirects=False, trust_env=False
    )
