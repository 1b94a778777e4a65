"""deploy/turnserver.conf: the hardening issue 13 #1 asks for is there, and nothing that undoes it.

coturn takes no CIDR in ``denied-peer-ip`` (only ``first-last`` ranges), so the ranges are parsed
here and each network that must never be a relay peer is checked to be covered whole. That the
file starts coturn without a warning is shown by tests/e2e/test_turn_relay.py, which runs it.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "deploy" / "turnserver.conf"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Never a peer: loopback, private, link-local (cloud metadata), mapped and translated IPv4,
#: unique local, multicast, unspecified, reserved, documentation, benchmarking, CGNAT, 6to4.
MUST_DENY = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
    "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
    "2001::/32", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8",
]  # fmt: skip
#: Single addresses worth naming: the cloud metadata service and the CVE-2026-27624 bypass.
MUST_DENY_ADDRESSES = ["169.254.169.254", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254"]
#: Public addresses stay relayable (the ranges are not so wide that TURN is useless).
MUST_ALLOW = ["1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.0", "2606:4700::1111", "2a00:1450::1"]


def directives() -> list[tuple[str, str]]:
    found = []
    for raw in CONF.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        found.append((name.strip(), value.strip()))
    return found


def denied_ranges() -> list[tuple[IPAddress, IPAddress]]:
    ranges = []
    for name, value in directives():
        if name == "denied-peer-ip":
            first, _, last = value.partition("-")
            low, high = ipaddress.ip_address(first), ipaddress.ip_address(last or first)
            assert low.version == high.version and low <= high, value
            ranges.append((low, high))
    return ranges


def is_denied(address: IPAddress) -> bool:
    return any(low.version == address.version and low <= address <= high for low, high in denied_ranges())


@pytest.mark.parametrize("cidr", MUST_DENY)
def test_every_special_network_is_denied_whole(cidr: str) -> None:
    network = ipaddress.ip_network(cidr)
    assert any(
        low.version == network.version
        and low <= network.network_address
        and network.broadcast_address <= high
        for low, high in denied_ranges()
    ), f"{cidr} is not inside one denied-peer-ip range"


def test_named_addresses_denied_and_public_ones_not() -> None:
    for text in MUST_DENY_ADDRESSES:
        assert is_denied(ipaddress.ip_address(text)), text
    for text in MUST_ALLOW:
        assert not is_denied(ipaddress.ip_address(text)), text


def test_secret_realm_tls_quotas_and_no_way_around_them() -> None:
    found = dict(directives())
    names = [name for name, _ in directives()]
    for flag in ("use-auth-secret", "fingerprint", "no-cli", "no-multicast-peers", "no-tlsv1", "no-tlsv1_1",
                 "no-tcp-relay", "no-dtls", "no-software-attribute"):  # fmt: skip
        assert flag in names, flag
    assert found["static-auth-secret"].startswith("REPLACE"), "a placeholder, never a real secret"
    assert "VEO_TURN_SECRET" in found["static-auth-secret"]
    assert found["realm"] and found["cert"] and found["pkey"]
    assert found["tls-listening-port"] == "443"
    assert int(found["stale-nonce"]) > 0
    for quota in ("user-quota", "total-quota", "max-bps"):
        assert int(found[quota]) > 0, quota
    # what would undo the hardening, or print secrets
    for forbidden in ("no-auth", "allow-loopback-peers", "allowed-peer-ip", "server-relay", "verbose",
                      "Verbose", "log-binding", "cli-password", "web-admin", "lt-cred-mech", "user",
                      "secure-stun"):  # fmt: skip
        assert forbidden not in names, forbidden
    # listening and relaying on public addresses the operator names, never on every interface
    assert found["listening-ip"].startswith("REPLACE") and found["relay-ip"].startswith("REPLACE")
