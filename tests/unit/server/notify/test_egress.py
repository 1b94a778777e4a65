"""Which addresses a webhook may reach: public ones, and what VEO_WEBHOOK_ALLOW names."""

from __future__ import annotations

import ipaddress

import pytest

from veo.config import Settings
from veo.server.notify.egress import AddressPolicy, is_public, literal_address
from veo.server.notify.webhooks import url_problem

NOT_PUBLIC = [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    "192.0.2.1", "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
    "fec0::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::",
    "2002:a9fe:a9fe::1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "::7f00:1",
    "2001:db8::1", "2001::1",
]  # fmt: skip
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"]


@pytest.mark.parametrize("text", NOT_PUBLIC)
def test_special_addresses_are_not_public(text: str) -> None:
    assert not is_public(ipaddress.ip_address(text))
    assert not AddressPolicy().allows(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_are(text: str) -> None:
    assert is_public(ipaddress.ip_address(text))


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0x7f000001", "0x7f.1", "127.1", "0177.0.0.1", "017700000001", "[::1]", "127.0.0.1."],
)
def test_every_spelling_of_loopback_is_read_as_loopback(host: str) -> None:
    address = literal_address(host)
    assert address is not None and address.is_loopback


def test_names_are_not_literals() -> None:
    assert literal_address("helpdesk.example.org") is None
    assert literal_address("cafe") is None


def test_the_allow_list_names_addresses_networks_and_hosts() -> None:
    policy = AddressPolicy.parse(" 127.0.0.1, 10.0.0.0/8 ,fd00::/8, Helpdesk.Internal. ")
    assert policy.allows(ipaddress.ip_address("127.0.0.1"))
    assert policy.allows(ipaddress.ip_address("::ffff:127.0.0.1"))  # the same address, mapped
    assert policy.allows(ipaddress.ip_address("10.20.30.40"))
    assert policy.allows(ipaddress.ip_address("fd00::5"))
    assert policy.allows(ipaddress.ip_address("192.168.1.1"), "helpdesk.internal")
    assert not policy.allows(ipaddress.ip_address("192.168.1.1"), "other.internal")
    assert not policy.allows(ipaddress.ip_address("127.0.0.2"))
    assert not policy.allows(ipaddress.ip_address("169.254.169.254"))
    with pytest.raises(ValueError, match="VEO_WEBHOOK_ALLOW"):
        AddressPolicy.parse("localhost:5432")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x", "http://2130706433/x", "http://0x7f000001:8080/", "http://127.1/",
        "http://user:pass@helpdesk.example.org/", "http://user@helpdesk.example.org/",
        "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://localhost:5432/",
        "http://LOCALHOST./", "http://db.localhost/", "http://[::1]:8000/", "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/", "http://[2002:7f00:1::]/", "http://[64:ff9b::a9fe:a9fe]/",
        "http://[fe80::1]/", "http://0.0.0.0/", "http://100.64.0.1/", "https://[fd00::1]/",
    ],
)  # fmt: skip
def test_internal_and_userinfo_urls_are_refused_without_dns(url: str) -> None:
    assert url_problem(url, AddressPolicy()) is not None


def test_public_names_and_allowed_addresses_pass() -> None:
    assert url_problem("https://helpdesk.example.org/veo", AddressPolicy()) is None
    assert url_problem("http://127.0.0.1:9000/x", AddressPolicy.parse("127.0.0.1")) is None
    assert url_problem("http://localhost:9000/x", AddressPolicy.parse("localhost")) is None
    assert url_problem("http://u:p@127.0.0.1:9000/x", AddressPolicy.parse("127.0.0.1")) is not None


def test_the_settings_keep_the_policy_their_validator_parsed() -> None:
    settings = Settings(webhook_allow="10.0.0.0/8, Helpdesk.Internal")
    assert settings.webhook_policy == AddressPolicy.parse("10.0.0.0/8, Helpdesk.Internal")
    assert settings.webhook_policy is Settings(webhook_allow="10.0.0.0/8, Helpdesk.Internal").webhook_policy
    assert Settings().webhook_policy == AddressPolicy()
    with pytest.raises(ValueError, match="VEO_WEBHOOK_ALLOW"):
        Settings(webhook_allow="not a host!")
