"""ASGI middleware around every request: language, security headers, body limit, metrics.

The security headers follow the public address: the CSP lets pages connect to their own origin
and to the exact WebSocket origin of ``VEO_PUBLIC_URL`` (``wss://support.example``), not to any
host (``ws: wss:`` did), so injected script could not even open a socket elsewhere; behind https
every answer also carries ``Strict-Transport-Security`` (``VEO_HSTS_MAX_AGE``, 0 to leave it to
the reverse proxy), without ``includeSubDomains`` (veo cannot speak for sibling hosts).

Written as plain ASGI (not ``BaseHTTPMiddleware``) so that WebSockets and streamed responses pass
through untouched and no extra task is spawned per request.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from veo.config import Settings
from veo.server import metrics
from veo.server.lang import _, set_language
from veo.server.origins import origin_of
from veo.server.web.templating import language_from_request

MAX_BODY_BYTES = 1024 * 1024
#: The one route allowed past MAX_BODY_BYTES: it streams to disk up to the role policy's file limit
#: (``veo.server.files.api``).
STREAMED_UPLOAD = re.compile(r"^/api/v1/tickets/[0-9]{1,18}/attachments$")

CSP_TEMPLATE = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src {connect}; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
#: What a WebSocket origin may look like in a header value (no ``;``, quote or space to inject).
SOCKET_ORIGIN = re.compile(
    r"^wss?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^wss?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$"
)


def socket_origin(public_url: str) -> str | None:
    """``https://support.example/`` -> ``wss://support.example``: where the pages' sockets go."""
    origin = origin_of(public_url)
    if origin is None:
        return None
    socket = "ws" + origin.removeprefix("http")
    return socket if SOCKET_ORIGIN.match(socket) else None


def csp(settings: Settings | None = None) -> str:
    """The Content-Security-Policy of every answer; ``connect-src`` names only veo itself."""
    connect = "'self'"
    socket = socket_origin(settings.public_url) if settings is not None else None
    if socket is not None:
        connect += " " + socket
    return CSP_TEMPLATE.format(connect=connect)


def security_headers(settings: Settings | None = None) -> dict[str, str]:
    headers = {
        "content-security-policy": csp(settings),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
    }
    if settings is not None and settings.public_url.startswith("https://") and settings.hsts_max_age > 0:
        headers["strict-transport-security"] = f"max-age={settings.hsts_max_age}"
    return headers


class TooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413)


class VeoMiddleware:
    """Everything each HTTP request needs before and after the router, in one pass."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES, settings: Settings | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.headers = security_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        set_language(language_from_request(HTTPConnection(scope)))
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
            await send(message)

        try:
            if self._streamed_upload(scope):
                # ticket attachments stream to disk and enforce the role policy's own limit
                await self.app(scope, receive, send_with_headers)
                return
            if self._declared_length(scope) > self.max_body_bytes:
                await self._reject_too_large(send_with_headers)
                return
            await self.app(scope, self._limited(receive), send_with_headers)
        finally:
            route = _route_label(scope)
            metrics.HTTP_REQUESTS.labels(route, scope["method"], str(status)).inc()
            metrics.HTTP_DURATION.labels(route).observe(time.perf_counter() - started)

    @staticmethod
    def _streamed_upload(scope: Scope) -> bool:
        """A raw-body attachment upload; a form post to the same path keeps the 1 MiB limit (its
        CSRF check would otherwise parse an unbounded form)."""
        if scope["method"] != "POST" or not STREAMED_UPLOAD.match(scope["path"]):
            return False
        for name, value in scope["headers"]:
            if name == b"content-type":
                return bool(value.split(b";")[0].strip() == b"application/octet-stream")
        return False

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    def _limited(self, receive: Receive) -> Receive:
        """Count a body sent without Content-Length (chunked) and stop it at the limit."""
        received = 0

        async def wrapped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise TooLarge()
            return message

        return wrapped

    async def _reject_too_large(self, send: Send) -> None:
        body = json.dumps(
            {"code": "request_too_large", "message": _("The request body is larger than 1 MiB.")}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _route_label(scope: Scope) -> str:
    """The route template (``/tickets/{ticket_id}``), never the raw path: bounded label values."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "unmatched"
