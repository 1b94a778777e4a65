"""TOTP secrets at rest: sealed with a key of the data directory, never in the database as they are.

A TOTP secret is the second factor itself: whoever reads it generates the account's codes. The
threat model's *database-only insider* (a DBA, a leaked backup) must not get it, so the database
keeps each secret AES-256-GCM-sealed under a 32-byte key in ``VEO_DATA_DIR/keys/totp.key``
(mode 0600, made on first use like the audit and session-code keys, never in the database). The
account's id is the authenticated data, so a sealed secret copied into another account's row
(say, the insider's own, whose secret they know, into an admin's) does not open there.

Losing or replacing the key file makes every enrolled account's codes fail; their recovery codes
(stored as digests, not sealed) still sign them in, and an admin's "reset TOTP" lets them enrol
again. Back the file up with the database, but not in the same place as the database dumps.

One key per data directory: the app sets it at start (:func:`use`); a process that never did
(unit tests) gets a random key of its own. Migration ``0015_totp_sealed`` sealed the secrets of
earlier versions.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veo.server.lang import _

KEY_DIR = "keys"
KEY_NAME = "totp.key"
KEY_BYTES = 32
PREFIX = "v1."
_NONCE_BYTES = 12
#: Stored length: ``v1.`` + base64 of nonce (12) + a 32-character secret + tag (16).
SEALED_CHARS = 120


class TotpKeyError(ValueError):
    """The key file exists but cannot be used; the message names the file."""


class TotpKey:
    """Seals and opens TOTP secrets, each bound to its account's id."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @staticmethod
    def _aad(user_id: int) -> bytes:
        return f"veo totp secret for user {user_id}".encode()

    def seal(self, secret: str, user_id: int) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), self._aad(user_id))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, user_id: int) -> str | None:
        """The secret, or None if it was not sealed with this key for this account (or altered)."""
        if not sealed.startswith(PREFIX):
            return None
        try:
            raw = base64.urlsafe_b64decode(sealed[len(PREFIX) :].encode())
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._aad(user_id))
        except (InvalidTag, ValueError):
            return None
        return plain.decode()


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_DIR / KEY_NAME


def load_or_create(data_dir: Path) -> TotpKey:
    """The data directory's key; a new one (mode 0600) when there is none.

    A new key is written to a temporary file and linked into place, so a process starting at the
    same moment either links its own or reads a complete one, never half a file.
    """
    path = key_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        temp = path.with_name(f".{KEY_NAME}.{secrets.token_hex(8)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            temp.unlink()
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise TotpKeyError(f"{path}: {exc}") from None
    if len(key) != KEY_BYTES:
        raise TotpKeyError(
            f"{path}: "
            + _("%(expected)d bytes expected, found %(found)d") % {"expected": KEY_BYTES, "found": len(key)}
        )
    return TotpKey(key)


_active: TotpKey | None = None


def use(data_dir: Path) -> TotpKey:
    """Make the data directory's key the one this process seals and opens TOTP secrets with."""
    global _active
    _active = load_or_create(data_dir)
    return _active


def active() -> TotpKey:
    """The key in use; a random one for this process when :func:`use` was never called."""
    global _active
    if _active is None:
        _active = TotpKey(secrets.token_bytes(KEY_BYTES))
    return _active
