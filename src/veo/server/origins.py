"""Whether a browser request comes from veo's own pages: the ``Origin`` check.

Browsers send ``Origin`` on every form post and WebSocket handshake and pages cannot forge it, so
it tells veo's own pages from another site's. It stands in for the CSRF token where there is none
yet (the sign-in forms) and guards the WebSockets, which no CSRF token or SameSite rule covers: a
page on any site may open ``wss://veo.example/ws/console`` and the browser attaches the cookie.

The allowed origin is ``VEO_PUBLIC_URL``'s. Only while no public URL is configured (a developer's
machine) is the address the request itself was sent to accepted too: otherwise a name that merely
resolves to the server (DNS rebinding) would count as veo's own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from veo.config import Settings

#: A WebSocket's own address has a ``ws``/``wss`` scheme; the page that opened it is http(s).
WEB_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """``https://Support.example:443/x`` -> ``https://support.example``, as a browser writes it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = WEB_SCHEMES.get(parts.scheme.lower())
    host = parts.hostname
    if scheme is None or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    suffix = f":{port}" if port is not None and port != DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{suffix}"


def allowed_origins(connection: HTTPConnection) -> set[str]:
    settings: Settings = connection.app.state.settings
    allowed = {origin_of(settings.public_url)}
    if "public_url" not in settings.model_fields_set:
        allowed.add(origin_of(f"{connection.url.scheme}://{connection.headers.get('host', '')}"))
    return {origin for origin in allowed if origin is not None}


def same_origin(connection: HTTPConnection) -> bool:
    """False when a browser says the request came from another site.

    Clients that send no ``Origin`` (scripts, the native agent) pass: they are not a browser
    acting for someone else, and carry only the credentials they hold themselves.
    """
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        # Our own ``Referrer-Policy: no-referrer`` makes Chromium send ``Origin: null`` even on a
        # same-origin form post; ``Sec-Fetch-Site`` is set by the browser (pages cannot forge it).
        # A sandboxed frame or a file:// page also says ``null``, with ``cross-site``/``none``.
        return connection.headers.get("sec-fetch-site") == "same-origin"
    return origin_of(origin.strip()) in allowed_origins(connection)
