"""The secret that binds a managed device's session to the device (issue 17, review R1-1).

A device session is joined with an ordinary join code, and that code can leak (a page, an
e-mail, a shoulder) or be guessed. The console presents whoever joins a device session as the
company's device, identity already confirmed, so the code alone must not be enough: the server
sends the device's service a random secret with the code (``SessionRequest.secret``), keeps only
its SHA-256 on the session, and redeems the code only for a ``join`` that carries the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from veo.server.sessions.models import RemoteSession


def new_secret() -> tuple[str, str]:
    """A fresh secret (32 random bytes, hex) and the digest the session keeps."""
    secret = secrets.token_hex(32)
    return secret, digest(secret)


def digest(secret: str) -> str:
    """SHA-256, hex: a database reader learns nothing that lets them join in the device's place."""
    return hashlib.sha256(secret.encode()).hexdigest()


def admits(session: RemoteSession, device_secret: str | None, client: str) -> bool:
    """Whether this join may take this session's code: a device session only with its secret,
    from the agent; any other session only from a join that carries no device secret (a secret on
    a session that has none is no device's join, and must learn nothing either)."""
    if session.device_id is None:
        return device_secret is None
    kept = session.device_secret_digest
    if client != "agent" or device_secret is None or not kept:
        return False
    return hmac.compare_digest(digest(device_secret), kept)
