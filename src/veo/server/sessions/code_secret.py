"""The server's secret for session codes: keyed digests to look codes up, a sealed copy to show one.

Join codes and continuation codes are 9 digits: 10^9 values, which a plain SHA-256 gives back in
seconds to anyone holding the database (a DBA, a leaked backup). The threat model keeps such a
*database-only insider* from learning a live code, so the database holds only

* ``digest(code)``: HMAC-SHA256 under a key derived from a 32-byte secret that lives in a file
  of the data directory (``VEO_DATA_DIR/keys/session_codes.key``, mode 0600, made on first use
  like the audit key), never in the database. Lookups compare digests. The HMAC is taken over
  the code's SHA-256 rather than the code itself so that migration ``0014_code_digests`` could
  convert the plain SHA-256 digests that earlier versions kept of used and expired codes.
* ``seal(code)``: the live join code, encrypted (AES-256-GCM under a second derived key), only
  so that the ticket page and the console can show the technician the code to read out while it
  is live; cleared with the live digest when the code is used or expires. Continuation codes are
  shown once, in the message that issues them, and are never sealed.

One secret per data directory: the app sets it at start (``use``, from ``sessions.routes``);
a process that never did (unit tests of the service) uses a random secret of its own.
Replacing the file makes live codes unknown (issue new ones) and used or expired codes answer
"unknown" instead of "used"; nothing else depends on it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from veo.server import keyfiles

KEY_DIR = "keys"
KEY_NAME = "session_codes.key"
SECRET_BYTES = 32
_SEAL_AAD = b"veo join code"
#: characters of a sealed code: base64 of nonce (12) + code (9) + tag (16)
SEALED_CHARS = 52


#: The key file exists but cannot be used; the message names the file.
CodeSecretError = keyfiles.KeyFileError


@dataclass(frozen=True)
class CodeSecret:
    """The two keys derived from one secret: one to digest codes, one to seal live join codes."""

    digest_key: bytes
    seal_key: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> CodeSecret:
        return cls(
            digest_key=hmac.digest(secret, b"veo session code digest", "sha256"),
            seal_key=hmac.digest(secret, b"veo session code seal", "sha256"),
        )

    def digest(self, code: str) -> str:
        """The keyed digest of a (normalized) code; the same code always gives the same digest."""
        return self.digest_of_sha256(hashlib.sha256(code.encode()).hexdigest())

    def digest_of_sha256(self, sha256_hex: str) -> str:
        """The keyed digest from the code's plain SHA-256 (what versions before 0014 stored)."""
        return hmac.new(self.digest_key, sha256_hex.encode(), "sha256").hexdigest()

    def seal(self, code: str) -> str:
        return keyfiles.Sealer(self.seal_key).seal(code, _SEAL_AAD)

    def unseal(self, sealed: str) -> str | None:
        """The code, or None when the value was not sealed with this secret (or was altered)."""
        return keyfiles.Sealer(self.seal_key).open(sealed, _SEAL_AAD)


#: The module's functions, from :class:`keyfiles.DataDirKey`: ``key_path(data_dir)``;
#: ``load_or_create(data_dir)``, the data directory's secret (made once, mode 0600; a file that cannot
#: be used raises :data:`CodeSecretError` naming it); ``use(data_dir)``, called by the app at start; and
#: ``active()``, the secret in use (a random one for this process when ``use`` was never called).
_KEY = keyfiles.DataDirKey(Path(KEY_DIR, KEY_NAME), SECRET_BYTES, CodeSecret.from_secret)
key_path = _KEY.path
load_or_create = _KEY.load_or_create
use = _KEY.use
active = _KEY.active
