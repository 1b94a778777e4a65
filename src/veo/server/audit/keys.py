"""The audit signing key: one Ed25519 key pair under the data directory, made when the app starts.

The server makes it in ``create_app`` (as it makes the code and TOTP keys), not at the first
checkpoint, so that a first node's data directory holds every key before an operator copies them
to nodes on other hosts; other processes (the CLI, the bench) still make it on first use.

The private key signs checkpoints (``checkpoints.py``) and never leaves the server; the public key
goes into every export so that ``veo audit verify`` can check signatures on another machine. The
private file is made like every key file of the data directory (``veo.server.keyfiles``): mode
0600 from the start, complete before its name appears, and when two processes start at once the
first one's key is the one both use.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from veo.server import keyfiles
from veo.server.lang import _

PRIVATE_NAME = "audit_ed25519.pem"
PUBLIC_NAME = "audit_ed25519.pub.pem"


class KeyFileError(ValueError):
    """A key file that cannot be used (unreadable, not Ed25519); the message names the file."""


def key_dir(data_dir: Path) -> Path:
    return data_dir / "audit"


def key_id(public: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key: names the key in each checkpoint."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_or_create(directory: Path) -> Ed25519PrivateKey:
    """The signing key in ``directory``; a new one (private file 0600) when there is none yet."""
    private_path = directory / PRIVATE_NAME
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    keyfiles.write_once(private_path, pem)  # kept only if no key is there yet (first process wins)
    key = load_private(private_path)
    (directory / PUBLIC_NAME).write_bytes(public_pem(key.public_key()))
    return key


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: " + _("not an Ed25519 private key"))
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{path}: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: " + _("not an Ed25519 public key"))
    return key


def signature_ok(public: Ed25519PublicKey, signature_hex: str, message: bytes) -> bool:
    try:
        public.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True
