"""Send the user's rating of the help to the server, once the session has ended.

The server hands the agent a per-session ``rating_token`` in ``joined``; with it the agent posts
``{token, score, comment}`` to ``POST /api/v1/sessions/{id}/rating`` over the same origin as the
signaling WebSocket (so the same https-only rule and the same trusted CAs apply). Plain ``urllib``
on a worker thread: one small request does not justify another dependency in the agent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import urllib.error
import urllib.request
from urllib.parse import quote, urlsplit, urlunsplit

from veo.agent.urls import AGENT_WS_PATH

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 15.0
_HTTP = {"wss": "https", "ws": "http"}


def rating_url(ws_url: str, session_id: str) -> str:
    """``wss://host/base/ws/agent`` -> ``https://host/base/api/v1/sessions/<id>/rating``."""
    parts = urlsplit(ws_url)
    base = parts.path.removesuffix(AGENT_WS_PATH)
    path = f"{base}/api/v1/sessions/{quote(session_id, safe='')}/rating"
    return urlunsplit((_HTTP[parts.scheme], parts.netloc, path, "", ""))


def _post(url: str, body: bytes, tls: ssl.SSLContext | None = None) -> int:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "veo-agent"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=tls) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def send_rating(
    ws_url: str, session_id: str, token: str, score: int, comment: str, tls: ssl.SSLContext | None = None
) -> bool:
    """Post the rating; True when the server stored it (or already had one for this session).

    ``tls`` is the same trust decision as the signaling connection (``--ca-file``); ``None`` means
    the system's store, with host-name checking as always.
    """
    url = rating_url(ws_url, session_id)
    body = json.dumps({"token": token, "score": score, "comment": comment}).encode()
    try:
        status = await asyncio.to_thread(_post, url, body, tls)
    except (OSError, ValueError) as exc:
        log.warning("could not send the rating: %s", exc)
        return False
    log.info("rating sent: score=%d status=%d", score, status)
    return status in (200, 409)
