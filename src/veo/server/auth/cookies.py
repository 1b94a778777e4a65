"""The session cookie's name and flags, derived from where the server is reachable.

Behind https the cookie is ``__Host-veo_session`` (the browser then insists on Secure, Path=/ and
no Domain, so a sibling subdomain cannot plant one). Over plain http a Secure cookie would simply
be dropped by the browser, so it is off there unless ``VEO_SECURE_COOKIES`` forces it.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import Response

from veo.config import Settings
from veo.server.auth.service import WEB_SESSION_LIFETIME

PLAIN_NAME = "veo_session"
HOST_NAME = "__Host-veo_session"


def cookie_name(settings: Settings) -> str:
    return HOST_NAME if settings.public_url.startswith("https://") else PLAIN_NAME


def cookie_secure(settings: Settings) -> bool:
    if settings.secure_cookies is not None:
        return settings.secure_cookies
    return settings.public_url.startswith("https://")


def session_token(connection: HTTPConnection) -> str | None:
    settings: Settings = connection.app.state.settings
    return connection.cookies.get(cookie_name(settings)) or None


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        cookie_name(settings),
        token,
        max_age=int(WEB_SESSION_LIFETIME.total_seconds()),
        path="/",
        secure=cookie_secure(settings) or cookie_name(settings) == HOST_NAME,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        cookie_name(settings),
        path="/",
        secure=cookie_secure(settings),
        httponly=True,
        samesite="strict",
    )
