"""The device socket's authentication (``devices/auth.py``), with hypothesis.

A device proves it holds its enrolled key by signing ``auth_payload(nonce, device_id, origin)``.
Whatever an attacker sends, only that exact signature over this socket's nonce, this device's id
and this server's origin, by the key enrolled for that id, gets in: not a random or mutated
signature, not one made for another nonce (a replay from another socket), another device,
another server, or with another key, not a second answer on the same socket, not a late one.
"""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from starlette.requests import HTTPConnection

from veo.config import Settings
from veo.protocol.device import DeviceHello, auth_payload, encode_public_key
from veo.server.devices.auth import (
    NONCE_BYTES,
    Challenge,
    KnownDevice,
    Verdict,
    server_origins,
    signature_valid,
)

ORIGIN = "https://support.example"
ORIGINS = frozenset({ORIGIN})

# one key for the whole module (hypothesis runs each test many times); others drawn as needed
KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
DEVICE = "a" * 32

hex_id = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
nonces = st.binary(min_size=NONCE_BYTES, max_size=NONCE_BYTES)
origins = st.sampled_from(
    [
        ORIGIN,
        "https://support.example:8443",
        "http://support.example",
        "https://evil.example",
        "https://SUPPORT.example.evil",
    ]
)


def public(key: Ed25519PrivateKey) -> str:
    return encode_public_key(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def known(device_id: str = DEVICE, key: Ed25519PrivateKey = KEY, *, revoked: bool = False) -> KnownDevice:
    return KnownDevice(device_id, public(key), revoked)


def hello(signature: bytes | str, device_id: str = DEVICE) -> DeviceHello:
    text = signature if isinstance(signature, str) else signature.hex()
    return DeviceHello(device_id=device_id, signature=text)


def signed(
    challenge: Challenge, *, device_id: str = DEVICE, origin: str = ORIGIN, key: Ed25519PrivateKey = KEY
) -> DeviceHello:
    return hello(key.sign(auth_payload(challenge.nonce, device_id, origin)), device_id)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- the right answer


def test_the_enrolled_key_signing_this_nonce_device_and_origin_gets_in() -> None:
    challenge = Challenge()
    assert challenge.answer(signed(challenge), known(), ORIGINS) == Verdict()
    assert Verdict().forget is False


def test_every_challenge_has_a_fresh_nonce_of_32_bytes() -> None:
    seen = {Challenge().nonce for _ in range(200)}
    assert len(seen) == 200
    assert all(len(n) == NONCE_BYTES for n in seen)
    assert Challenge().message().nonce != Challenge().message().nonce


def test_the_origin_is_compared_in_lowercase_as_the_payload_writes_it() -> None:
    challenge = Challenge()
    assert (
        challenge.answer(signed(challenge, origin="HTTPS://Support.Example"), known(), ORIGINS).refused
        is None
    )


# ---------------------------------------------------------------- wrong answers


@settings(max_examples=200, deadline=None)
@given(signature=st.binary(min_size=64, max_size=64))
def test_a_random_signature_is_refused(signature: bytes) -> None:
    challenge = Challenge()
    verdict = challenge.answer(hello(signature), known(), ORIGINS)
    assert verdict.refused == "bad_signature"
    assert verdict.forget is False  # a bad signature never makes a device drop its enrolment


@settings(max_examples=200, deadline=None)
@given(position=st.integers(0, 63), flip=st.integers(1, 255))
def test_a_signature_with_any_byte_changed_is_refused(position: int, flip: int) -> None:
    challenge = Challenge()
    good = bytearray(KEY.sign(auth_payload(challenge.nonce, DEVICE, ORIGIN)))
    good[position] ^= flip
    assert challenge.answer(hello(bytes(good)), known(), ORIGINS).refused == "bad_signature"


@settings(max_examples=100, deadline=None)
@given(other_nonce=nonces)
def test_a_signature_for_another_nonce_is_refused_so_a_recorded_hello_cannot_be_replayed(
    other_nonce: bytes,
) -> None:
    challenge = Challenge()
    assume(other_nonce != challenge.nonce)
    recorded = hello(KEY.sign(auth_payload(other_nonce, DEVICE, ORIGIN)))
    assert challenge.answer(recorded, known(), ORIGINS).refused == "bad_signature"


def test_a_hello_recorded_on_one_socket_is_worth_nothing_on_the_next() -> None:
    first = Challenge()
    recorded = signed(first)
    assert first.answer(recorded, known(), ORIGINS).refused is None
    second = Challenge()
    assert second.answer(recorded, known(), ORIGINS).refused == "bad_signature"


def test_a_challenge_is_answered_once_even_rightly() -> None:
    challenge = Challenge()
    good = signed(challenge)
    assert challenge.answer(hello("00" * 64), known(), ORIGINS).refused == "bad_signature"
    assert challenge.answer(good, known(), ORIGINS).refused == "malformed"
    again = Challenge()
    assert again.answer(signed(again), known(), ORIGINS).refused is None
    assert again.answer(signed(again), known(), ORIGINS).refused == "malformed"


@settings(max_examples=100, deadline=None)
@given(other=hex_id)
def test_a_signature_made_for_another_device_is_refused(other: str) -> None:
    """A device (or a thief of one device's key) cannot sign in as another device."""
    assume(other != DEVICE)
    challenge = Challenge()
    # signed for ``other`` with the key enrolled for DEVICE, presented as DEVICE
    assert (
        challenge.answer(
            hello(KEY.sign(auth_payload(challenge.nonce, other, ORIGIN))), known(), ORIGINS
        ).refused
        == "bad_signature"
    )
    # DEVICE's right signature presented as ``other`` (enrolled with another key)
    second = Challenge()
    stolen = hello(KEY.sign(auth_payload(second.nonce, DEVICE, ORIGIN)), other)
    assert second.answer(stolen, known(other, OTHER_KEY), ORIGINS).refused == "bad_signature"


@settings(max_examples=50, deadline=None)
@given(origin=origins)
def test_a_signature_for_another_server_origin_is_refused(origin: str) -> None:
    challenge = Challenge()
    verdict = challenge.answer(signed(challenge, origin=origin), known(), ORIGINS)
    assert (verdict.refused is None) == (origin.lower() == ORIGIN)


def test_a_signature_by_another_key_is_refused() -> None:
    challenge = Challenge()
    assert challenge.answer(signed(challenge, key=OTHER_KEY), known(), ORIGINS).refused == "bad_signature"


@settings(max_examples=20, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32))
def test_signatures_by_any_other_key_are_refused(seed: bytes) -> None:
    other = Ed25519PrivateKey.from_private_bytes(seed)
    assume(public(other) != public(KEY))
    challenge = Challenge()
    assert challenge.answer(signed(challenge, key=other), known(), ORIGINS).refused == "bad_signature"


def test_an_unknown_device_is_refused_but_never_told_to_forget() -> None:
    """A restored old backup or the wrong server behind the name must not unenrol a fleet."""
    challenge = Challenge()
    verdict = challenge.answer(signed(challenge), None, ORIGINS)
    assert verdict.refused == "unknown_device"
    assert verdict.forget is False


def test_a_revoked_device_is_told_so_only_once_it_proved_its_key() -> None:
    challenge = Challenge()
    verdict = challenge.answer(signed(challenge), known(revoked=True), ORIGINS)
    assert verdict.refused == "revoked"
    assert verdict.forget is True
    # anyone else naming a revoked device learns nothing about it
    stranger = Challenge()
    assert (
        stranger.answer(signed(stranger, key=OTHER_KEY), known(revoked=True), ORIGINS).refused
        == "bad_signature"
    )


def test_a_late_answer_is_refused_even_when_right() -> None:
    clock = Clock()
    challenge = Challenge(clock=clock, seconds=10.0)
    clock.now += 10.0
    assert challenge.remaining() == 0.0
    verdict = challenge.answer(signed(challenge), known(), ORIGINS)
    assert verdict.refused == "challenge_expired"
    assert verdict.forget is False


def test_an_answer_in_time_counts() -> None:
    clock = Clock()
    challenge = Challenge(clock=clock, seconds=10.0)
    clock.now += 9.5
    assert challenge.answer(signed(challenge), known(), ORIGINS).refused is None


# ---------------------------------------------------------------- garbage


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=60), signature=st.text(max_size=140), payload=st.binary(max_size=200))
def test_garbage_keys_and_signatures_never_raise_and_never_verify(
    key: str, signature: str, payload: bytes
) -> None:
    assert signature_valid(key, payload, signature) is False


@settings(max_examples=100, deadline=None)
@given(raw_key=st.binary(min_size=32, max_size=32))
def test_any_32_bytes_as_a_stored_key_never_verify_a_random_signature(raw_key: bytes) -> None:
    assert signature_valid(encode_public_key(raw_key), b"payload", secrets.token_hex(64)) is False


def test_a_nonce_of_the_wrong_size_is_refused_at_once() -> None:
    with pytest.raises(ValueError):
        Challenge(nonce=b"short")


# ---------------------------------------------------------------- which origin


def _connection(url: str, host: str) -> HTTPConnection:
    parts = url.split("://", 1)
    scope = {
        "type": "websocket",
        "scheme": parts[0],
        "path": "/ws/device",
        "headers": [(b"host", host.encode())],
        "server": (host, 80),
    }
    return HTTPConnection(scope)


def test_the_origin_is_the_public_urls_lowercase_without_its_default_port() -> None:
    settings_ = Settings(public_url="https://Support.Example:443/veo")
    assert server_origins(settings_) == {"https://support.example"}
    # a configured public URL is the only one: the address the socket came in on does not count
    assert server_origins(settings_, _connection("wss://x", "other.example")) == {"https://support.example"}


def test_without_a_public_url_the_sockets_own_address_counts_too() -> None:
    assert server_origins(Settings(), _connection("ws://x", "127.0.0.1:8000")) == {"http://127.0.0.1:8000"}
    assert server_origins(Settings(), _connection("ws://x", "laptop.local:9000")) == {
        "http://127.0.0.1:8000",
        "http://laptop.local:9000",
    }
