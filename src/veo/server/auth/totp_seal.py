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

One key per data directory: the app sets it at start (``use``); a process that never did
(unit tests) gets a random key of its own. Migration ``0015_totp_sealed`` sealed the secrets of
earlier versions.
"""

from __future__ import annotations

from pathlib import Path

from veo.server import keyfiles

KEY_DIR = "keys"
KEY_NAME = "totp.key"
KEY_BYTES = 32
PREFIX = "v1."
#: Stored length: ``v1.`` + base64 of nonce (12) + a 32-character secret + tag (16).
SEALED_CHARS = 120


#: The key file exists but cannot be used; the message names the file.
TotpKeyError = keyfiles.KeyFileError


class TotpKey:
    """Seals and opens TOTP secrets, each bound to its account's id."""

    def __init__(self, key: bytes) -> None:
        self._sealer = keyfiles.Sealer(key)

    @staticmethod
    def _aad(user_id: int) -> bytes:
        return f"veo totp secret for user {user_id}".encode()

    def seal(self, secret: str, user_id: int) -> str:
        return PREFIX + self._sealer.seal(secret, self._aad(user_id))

    def open(self, sealed: str, user_id: int) -> str | None:
        """The secret, or None if it was not sealed with this key for this account (or altered)."""
        if not sealed.startswith(PREFIX):
            return None
        return self._sealer.open(sealed[len(PREFIX) :], self._aad(user_id))


#: The module's functions, from :class:`keyfiles.DataDirKey`: ``key_path(data_dir)``;
#: ``load_or_create(data_dir)``, the data directory's key (made once, mode 0600; a file that cannot
#: be used raises :data:`TotpKeyError` naming it); ``use(data_dir)``, called by the app at start; and
#: ``active()``, the key in use (a random one for this process when ``use`` was never called).
_KEY = keyfiles.DataDirKey(Path(KEY_DIR, KEY_NAME), KEY_BYTES, TotpKey)
key_path = _KEY.path
load_or_create = _KEY.load_or_create
use = _KEY.use
active = _KEY.active
