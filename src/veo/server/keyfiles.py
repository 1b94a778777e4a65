"""Key files of the data directory, and the AES-256-GCM sealing done with their keys.

Several secrets live as files under ``VEO_DATA_DIR`` and never in the database, so that the threat
model's *database-only insider* (a DBA, a leaked backup) does not get them: the session-code
secret and the TOTP key (``keys/``, raw random bytes) and the audit signing key (``audit/``, a
PEM file). The server makes all three when its app is created (``create_app``), so a first
node's data directory holds them before they are copied to other nodes; a CLI command or a
migration that needs one makes it on first use. Several processes may do so at the same moment
(nodes on one shared directory, a migration). :func:`write_once` is the one way they are made:
the bytes go to a temporary file created with mode 0600, then are linked into place, so another
process sees either no file or a complete one (never half a key), nobody else can read it even
for a moment, and when two processes race the first link wins and both use its key.

:class:`DataDirKey` is the rest of what such a module does with its key file: where it lives, the
key of the data directory that this process uses (set at start), and a random key for a process
that never set one (unit tests).

:class:`Sealer` is the one AES-256-GCM layout used with such keys: base64url of a random 12-byte
nonce followed by the ciphertext and its tag, with associated data that binds a sealed value to
where it belongs. The stored formats of ``sessions/code_secret.py`` and ``auth/totp_seal.py``
are this layout; changing it would make existing rows unreadable.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veo.server.lang import _

NONCE_BYTES = 12
T = TypeVar("T")


class KeyFileError(ValueError):
    """The key file exists but cannot be used; the message names the file."""


def write_once(path: Path, content: bytes) -> bool:
    """Put ``content`` at ``path`` (mode 0600) unless a file is already there; True if ours went in.

    The directory is made (mode 0700) if missing. The content is complete on disk before the
    name appears, since it is written to a hidden temporary file that is then hard-linked to
    ``path``; the link fails when another process linked first, and then its file stays.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        return False
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.link(temp, path)
    except FileExistsError:
        return False  # another process was first: its file is the one
    finally:
        temp.unlink()
    return True


def load_or_create_key(path: Path, size: int) -> bytes:
    """The ``size`` random bytes kept in ``path``, made there (mode 0600) the first time.

    A file that cannot be read, or holds another number of bytes, raises :class:`KeyFileError`
    naming it: a damaged key is never silently replaced (that would orphan what it sealed).
    """
    write_once(path, secrets.token_bytes(size))
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc}") from None
    if len(key) != size:
        raise KeyFileError(
            f"{path}: "
            + _("%(expected)d bytes expected, found %(found)d") % {"expected": size, "found": len(key)}
        )
    return key


class DataDirKey(Generic[T]):
    """A raw-bytes key file of the data directory, and the key this process uses.

    ``build`` turns the key's bytes into what its module works with. The app calls :meth:`use`
    with the data directory at start; a process that never did gets, from :meth:`active`, a
    random key of its own that is written nowhere.
    """

    def __init__(self, relative: Path, size: int, build: Callable[[bytes], T]) -> None:
        self._relative = relative
        self._size = size
        self._build = build
        self._active: T | None = None

    def path(self, data_dir: Path) -> Path:
        return data_dir / self._relative

    def load_or_create(self, data_dir: Path) -> T:
        """The data directory's key (:func:`load_or_create_key`: made once, never replaced)."""
        return self._build(load_or_create_key(self.path(data_dir), self._size))

    def use(self, data_dir: Path) -> T:
        """Make the data directory's key the one this process uses."""
        self._active = self.load_or_create(data_dir)
        return self._active

    def active(self) -> T:
        """The key in use; a random one for this process when :meth:`use` was never called."""
        if self._active is None:
            self._active = self._build(secrets.token_bytes(self._size))
        return self._active


class Sealer:
    """Seals and opens short texts with one AES-256-GCM key, each bound to associated data."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plain: str, aad: bytes) -> str:
        """base64url(nonce + ciphertext + tag); a fresh nonce each time, so equal texts differ."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plain.encode(), aad)).decode()

    def open(self, sealed: str, aad: bytes) -> str | None:
        """The text, or None when it was not sealed with this key and ``aad`` (or was altered)."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad).decode()
        except (InvalidTag, ValueError):
            return None
