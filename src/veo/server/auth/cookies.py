"""The session cookie's name and flags, derived from where the server is reachable.

Behind https the cookie is ``__Host-veo_session`` (the browser then insists on Secure, Path=/ and
no Domain, so a sibling subdomain cannot plant one). The cookie is Secure everywhere except on a
plain-http loopback address (a developer's machine, the tests), where browsers would drop it;
``VEO_SECURE_COOKIES`` overrides either way. A plain-http public address therefore needs https
or an explicit ``VEO_SECURE_COOKIES=false`` (the server warns at start-up).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import Response

from veo.config import Settings
from veo.server.auth.service import WEB_SESSION_LIFETIME

PLAIN_NAME = "veo_session"
HOST_NAME = "__Host-veo_session"


def cookie_name(settings: Settings) -> str:
    return HOST_NAME if settings.public_url.startswith("https://") else PLAIN_NAME


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def cookie_secure(settings: Settings) -> bool:
    if settings.secure_cookies is not None:
        return settings.secure_cookies
    url = urlsplit(settings.public_url)
    return not (url.scheme == "http" and (url.hostname or "") in LOOPBACK_HOSTS)


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


def challenge_cookie_name(settings: Settings) -> str:
    """The cookie of a sign-in waiting for its TOTP code (same prefix rules as the session's)."""
    return "__Host-veo_login" if settings.public_url.startswith("https://") else "veo_login"


def challenge_token(connection: HTTPConnection) -> str | None:
    settings: Settings = connection.app.state.settings
    return connection.cookies.get(challenge_cookie_name(settings)) or None


def set_challenge_cookie(response: Response, settings: Settings, token: str, max_age: int) -> None:
    name = challenge_cookie_name(settings)
    secure = cookie_secure(settings) or name.startswith("__Host-")
    response.set_cookie(
        name, token, max_age=max_age, path="/", secure=secure, httponly=True, samesite="strict"
    )


def clear_challenge_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        challenge_cookie_name(settings),
        path="/",
        secure=cookie_secure(settings),
        httponly=True,
        samesite="strict",
    )
