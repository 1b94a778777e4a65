"""The device's Ed25519 key: made at enrolment, kept 0600 in the state directory, used to sign
each challenge of ``/ws/device`` (``auth_payload``). Only the public half leaves the computer."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from veo.agent.device.state import KEY_NAME, StateError, write_private
from veo.protocol.device import auth_payload, encode_public_key


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def save(directory: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(directory / KEY_NAME, pem)


def load(directory: Path) -> Ed25519PrivateKey:
    path = directory / KEY_NAME
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise StateError(f"{path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise StateError(f"{path}: not a private key in PEM format") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise StateError(f"{path}: not an Ed25519 key")
    return key


def public_key_text(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return encode_public_key(raw)


def sign_challenge(key: Ed25519PrivateKey, nonce_hex: str, device_id: str, origin: str) -> str:
    """The hex signature a ``device_hello`` carries for this challenge."""
    return key.sign(auth_payload(bytes.fromhex(nonce_hex), device_id, origin)).hex()
