"""ASGI middleware around every request: language, security headers, body limit, metrics.

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

from veo.server import metrics
from veo.server.lang import _, set_language
from veo.server.web.templating import language_from_request

MAX_BODY_BYTES = 1024 * 1024
#: The one route allowed past MAX_BODY_BYTES: it streams to disk up to the role policy's file limit
#: (``veo.server.files.api``).
STREAMED_UPLOAD = re.compile(r"^/api/v1/tickets/[0-9]{1,18}/attachments$")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


class TooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413)


class VeoMiddleware:
    """Everything each HTTP request needs before and after the router, in one pass."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

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
                for name, value in SECURITY_HEADERS.items():
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
