"""The shapes a downloaded or installed agent reads before the user types anything."""

from __future__ import annotations

import contextlib
import hashlib
import struct
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veo.protocol import agent_config as ac


def test_a_sealed_configuration_reads_back_after_any_file() -> None:
    config = ac.EmbeddedConfig(server="https://support.example/", organization="ACME", code="123-456 789")
    tail = b"\x7fELF" + b"\0" * 1000 + ac.seal(config)
    assert ac.unseal_tail(tail) == config.model_copy()
    assert config.server == "https://support.example" and config.code == "123456789"


def test_a_file_without_a_trailer_carries_nothing() -> None:
    assert ac.unseal_tail(b"\x7fELF" + b"\0" * 100) is None


REFUSED = [
    "ftp://x.example",
    "https://",
    "https://x.example/?q=1",
    "https://u@x.example",
    "https://x.example/a b",
]


@pytest.mark.parametrize("server", REFUSED)
def test_server_addresses_that_are_refused(server: str) -> None:
    with pytest.raises(ValueError):
        ac.EmbeddedConfig(server=server)


def test_installed_configuration_allows_only_its_own_servers() -> None:
    installed = ac.InstalledConfig(servers=["https://support.example", "https://help.example:8443/veo"])
    assert installed.allows("https://SUPPORT.example:443/")
    assert installed.allows("https://help.example:8443/veo")
    assert not installed.allows("https://help.example/veo")  # another port
    assert not installed.allows("http://support.example")  # another scheme
    assert not installed.allows("https://support.example.evil.example")
    assert not installed.allows("https://support.example/other")


def test_a_join_link_round_trips_and_anything_else_is_refused() -> None:
    link = ac.join_link("https://support.example/veo", "123456789")
    assert link.startswith("veo://join?server=https%3A%2F%2Fsupport.example%2Fveo")
    assert ac.parse_join_link(link) == ac.JoinLink(server="https://support.example/veo", code="123456789")
    for bad in (
        "https://join?server=https://x.example",
        "veo://other?server=https://x.example",
        "veo://join?server=https://a.example&server=https://b.example",
        "veo://join?server=https://x.example&code=12",
        "veo://join?code=123456789",
        "veo://join?server=" + "a" * 3000,
    ):
        with pytest.raises(ac.AgentConfigError):
            ac.parse_join_link(bad)


@given(st.text(max_size=200))
def test_any_link_text_is_a_link_or_a_refusal(text: str) -> None:
    with contextlib.suppress(ac.AgentConfigError):  # anything else fails the test
        ac.parse_join_link(text)


def test_versions_compare_as_numbers() -> None:
    assert ac.version_key("0.2") == ac.version_key("0.2.0")
    assert ac.is_older("0.9.0", "0.10.0")
    assert not ac.is_older("0.10.0", "0.9.9")
    assert not ac.is_older("0.2.0rc1", "0.2.0")  # a suffix after the numbers is ignored
    assert not ac.is_older("", ac.MIN_AGENT_VERSION)  # an agent older than the field: 0.1.0
    assert ac.is_older("garbage", "0.1.0")  # unreadable: treated as old, told to update
    with pytest.raises(ValueError):
        ac.version_key("v1")


_FIELD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~%:/", max_size=30)


@given(st.lists(st.tuples(st.sampled_from(["server", "code", "x", "lang", ""]), _FIELD), max_size=8))
def test_a_link_shaped_like_a_join_link_is_read_right_or_refused(fields: list[tuple[str, str]]) -> None:
    """Links a web page may build: any number of fields. Read, the server is the one written;
    otherwise a refusal (a plain ValueError from too many fields once escaped and crashed the agent)."""
    link = "veo://join?" + "&".join(f"{key}={value}" for key, value in fields)
    try:
        read = ac.parse_join_link(link)
    except ac.AgentConfigError:
        return
    written = [value for key, value in fields if key == "server"]
    assert len(written) == 1 and read.server == unquote(written[0]).strip().rstrip("/")


def test_too_many_fields_is_a_refusal_not_a_crash() -> None:
    with pytest.raises(ac.AgentConfigError):
        ac.parse_join_link("veo://join?server=https://x.example&a=1&b=2&c=3&d=4")


def _sealed(payload: bytes) -> bytes:
    return ac.START + payload + struct.pack("<I32s", len(payload), hashlib.sha256(payload).digest()) + ac.END


@given(st.binary(max_size=2000) | st.integers(1, 6000).map(lambda depth: b"[" * depth + b"]" * depth))
def test_any_payload_with_a_right_digest_is_a_configuration_or_invalid(payload: bytes) -> None:
    """The digest is no key: whoever edits a copy recomputes it, so what it guards must parse safely
    (deeply nested JSON once escaped as a RecursionError)."""
    try:
        ac.unseal_tail(_sealed(payload))
    except ac.AgentConfigError as exc:
        assert exc.problem == "invalid"
