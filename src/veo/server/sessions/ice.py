"""ICE servers handed to both peers: only the operator's TURN/STUN, never a public default.

With ``VEO_TURN_SECRET`` the credentials follow coturn's REST API (``use-auth-secret``): the
username is ``<expiry>:<session id>`` and the password HMAC-SHA1(secret, username) in base64, so
they stop working a day later and never need storing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from veo.config import Settings
from veo.protocol.signaling import IceServer

CREDENTIAL_TTL_SECONDS = 24 * 3600


def ice_servers(settings: Settings, session_id: str, *, now: float | None = None) -> list[IceServer]:
    if not settings.turn_urls:
        return []
    if not settings.turn_secret:
        return [IceServer(urls=list(settings.turn_urls))]
    expiry = int(now if now is not None else time.time()) + CREDENTIAL_TTL_SECONDS
    username = f"{expiry}:{session_id}"
    digest = hmac.new(settings.turn_secret.encode(), username.encode(), hashlib.sha1).digest()
    return [
        IceServer(
            urls=list(settings.turn_urls), username=username, credential=base64.b64encode(digest).decode()
        )
    ]
