"""Who is asking: FastAPI dependencies for pages, the API and WebSockets.

Routes read as sentences: ``async def page(user: CurrentUser, db: DatabaseDep)``. One lookup per
request is cached on ``request.state``, so ``current_user`` and ``verify_csrf`` may both run.
A page without a signed-in user redirects to ``/login?next=...``; the API answers 401 JSON.

The CSRF check lives in the authentication itself: every dependency that yields a user
(:data:`CurrentUser`, :data:`AdminUser`, :data:`SignedInUser`) refuses a POST, PUT, PATCH or
DELETE that came with the session cookie but without the session's CSRF token. A route cannot
forget it, because a route that does not ask who is calling would also be open to strangers
(``tests/integration/test_surface_auth.py`` and ``test_surface_csrf.py`` sweep the route table).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, WebSocket
from starlette.requests import HTTPConnection

from veo.server.auth import login, service
from veo.server.auth.cookies import session_token
from veo.server.auth.models import User, WebSession
from veo.server.db.engine import Database
from veo.server.errors import ApiError, LoginRequired, PasswordChangeRequired
from veo.server.lang import _, set_language

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOTP_ENROLMENT_PAGE = "/account/totp"
#: Where a user who must enrol may still go (enrolment itself, and signing out).
TOTP_ENROLMENT_PATHS = frozenset({TOTP_ENROLMENT_PAGE, "/logout"})


@dataclass(frozen=True)
class Identity:
    """The result of looking at a request's credentials (``user`` None: nobody signed in)."""

    user: User | None
    web_session: WebSession | None = None
    via_bearer: bool = False


def is_api(connection: HTTPConnection) -> bool:
    return connection.url.path.startswith("/api/")


def _bearer(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _sep, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def identify(connection: HTTPConnection, *, allow_bearer: bool = True) -> Identity:
    """Resolve the cookie (or bearer token) once per request."""
    cached: Identity | None = getattr(connection.state, "veo_identity", None)
    if cached is not None:
        return cached
    db: Database = connection.app.state.db
    bearer = _bearer(connection) if allow_bearer else None
    cookie = session_token(connection)
    identity = Identity(user=None)
    if bearer is not None:
        user = await db.run(lambda s: service.user_for_api_token(s, bearer))
        identity = Identity(user=user, via_bearer=True)
    elif cookie is not None:
        web_session = await db.run(lambda s: service.web_session_for(s, cookie))
        if web_session is not None:
            identity = Identity(user=web_session.user, web_session=web_session)
    if identity.user is not None and identity.user.language and "lang" not in connection.query_params:
        set_language(identity.user.language)
    connection.state.veo_identity = identity
    return identity


def _target(request: Request) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return target


def _next_url(request: Request) -> str:
    return "/login?next=" + quote(_target(request), safe="")


def identify_cached(connection: HTTPConnection) -> Identity:
    """The identity :func:`identify` already resolved for this request."""
    identity: Identity = connection.state.veo_identity
    return identity


async def signed_in_user(request: Request) -> User:
    """Any signed-in user, even one who still has to replace a one-time password."""
    identity = await identify(request)
    if identity.user is None:
        if is_api(request):
            raise ApiError(401, "not_authenticated", _("Sign in or send a valid bearer token."))
        raise LoginRequired(_next_url(request))
    # Who first (401 before 403), then whether a cookie-borne write came from one of our pages.
    await verify_csrf(request)
    return identity.user


async def current_user(request: Request) -> User:
    """The signed-in technician from the session cookie or a bearer token; 401 otherwise."""
    user = await signed_in_user(request)
    if user.must_change_password:
        if is_api(request):
            raise ApiError(
                403, "password_change_required", _("Set a new password at /account/password first.")
            )
        raise PasswordChangeRequired()
    db: Database = request.app.state.db
    if await db.run(lambda s: login.must_enrol(s, user)):
        # Checked on every request, cookie and bearer alike: a policy that starts requiring TOTP
        # binds existing sessions and tokens at once.
        if is_api(request) or identify_cached(request).via_bearer:
            raise ApiError(
                403,
                "totp_required",
                _("Your role requires two-factor sign-in: enrol at /account/totp first."),
            )
        if request.url.path not in TOTP_ENROLMENT_PATHS:
            # LoginRequired is "redirect to this local address first", here the enrolment page.
            raise LoginRequired(TOTP_ENROLMENT_PAGE + "?next=" + quote(_target(request), safe=""))
    return user


async def admin_user(request: Request) -> User:
    """A signed-in administrator; anyone else gets 403 ``forbidden`` (JSON for the API)."""
    user = await current_user(request)
    if user.role != "admin":
        raise ApiError(403, "forbidden", _("Only administrators may do this."))
    return user


async def current_user_ws(websocket: WebSocket) -> User | None:
    """The technician behind a WebSocket handshake (session cookie), or None."""
    identity = await identify(websocket, allow_bearer=False)
    user = identity.user
    if user is None or user.must_change_password:
        return None
    db: Database = websocket.app.state.db
    if await db.run(lambda s: login.must_enrol(s, user)):
        return None
    return user


async def csrf_token_of(request: Request) -> str | None:
    """The CSRF token pages must embed in their forms (None when nobody is signed in)."""
    identity = await identify(request)
    return identity.web_session.csrf_token if identity.web_session is not None else None


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


async def verify_csrf(request: Request) -> None:
    """Reject a state-changing form post without the session's CSRF token (403).

    The token comes from the form field ``csrf_token`` or the ``X-CSRF-Token`` header (for
    scripts). A request authenticated only by a bearer token, or carrying no signed-in session at
    all, has no ambient credential, so there is nothing to forge and it passes (to be refused by
    authentication where the route needs a user). :func:`signed_in_user` calls it for every route
    that needs a user; routes that may run without one (sign-out) name it themselves.
    Compared as bytes: a header may hold any Latin-1 text, which ``compare_digest`` refuses as str.
    """
    if request.method in SAFE_METHODS:
        return
    identity = await identify(request)
    if identity.via_bearer or identity.web_session is None:
        # no ambient credential to forge: authentication (after this) answers 401 or the login page
        return
    expected = identity.web_session.csrf_token
    sent = request.headers.get("x-csrf-token")
    content_type = request.headers.get("content-type", "")
    if sent is None and content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf_token")
        sent = value if isinstance(value, str) else None
    if expected is None or sent is None or not hmac.compare_digest(_bytes(expected), _bytes(sent)):
        raise ApiError(
            403,
            "csrf_failed",
            _("This form has expired or did not come from this site. Reload the page and try again."),
        )


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]
SignedInUser = Annotated[User, Depends(signed_in_user)]
PageUser = CurrentUser
