"""Sign-in, sign-out and password pages (forms posted by the browser, rendered by Jinja2)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from veo.config import Settings
from veo.server.auth import passwords, service
from veo.server.auth.cookies import clear_session_cookie, session_token, set_session_cookie
from veo.server.auth.deps import SignedInUser, identify, verify_csrf
from veo.server.auth.models import User
from veo.server.db.deps import DatabaseDep
from veo.server.errors import ApiError, InvalidInput
from veo.server.lang import _
from veo.server.web.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None, default: str = "/tickets") -> str:
    """Only a local path: ``next`` must never send a signed-in user to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def same_origin(request: Request) -> bool:
    """False when a browser says the form came from another site (login CSRF).

    The login form has no session yet, hence no CSRF token; browsers send ``Origin`` on every
    POST, so a cross-site form is recognised by it. Clients that send no Origin (scripts) pass.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        # Our own ``Referrer-Policy: no-referrer`` makes Chromium send ``Origin: null`` even on a
        # same-origin form post; ``Sec-Fetch-Site`` is set by the browser (pages cannot forge it).
        return request.headers.get("sec-fetch-site") == "same-origin"
    settings: Settings = request.app.state.settings
    public = urlsplit(settings.public_url)
    allowed = {
        f"{public.scheme}://{public.netloc}",
        f"{request.url.scheme}://{request.headers.get('host', '')}",
    }
    return origin in allowed


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    if (await identify(request)).user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return await render(request, "login.html", {"next": safe_next(next), "email": "", "error": None})


@router.post("/login")
async def login(
    request: Request,
    db: DatabaseDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/tickets",
) -> Response:
    if not same_origin(request):
        raise ApiError(403, "csrf_failed", _("This form did not come from this site."))
    address = client_address(request)

    def sign_in(s: Session) -> tuple[User, str] | None:
        user = service.authenticate(s, email, password, address=address)
        if user is None:
            return None
        token, _session = service.start_web_session(s, user, address=address)
        return user, token

    result = await db.run(sign_in) if email and password else None
    if result is None:
        error = _("Wrong e-mail or password.") if email and password else _("Enter your e-mail and password.")
        context = {"next": safe_next(next), "email": email, "error": error}
        return await render(request, "login.html", context, status_code=401)
    user, token = result
    target = safe_next(next)
    if user.must_change_password:
        target = "/account/password?next=" + target
    response = RedirectResponse(target, status_code=303)
    settings: Settings = request.app.state.settings
    set_session_cookie(response, settings, token)
    return response


@router.post("/logout", dependencies=[Depends(verify_csrf)])
async def logout(request: Request, db: DatabaseDep) -> Response:
    token = session_token(request)
    if token is not None:
        await db.run(lambda s: service.end_web_session(s, token))
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request.app.state.settings)
    return response


@router.get("/account/password")
async def password_form(request: Request, user: SignedInUser, next: str | None = None) -> Response:
    context = {"next": safe_next(next), "errors": {}, "forced": user.must_change_password}
    return await render(request, "account/password.html", context)


@router.post("/account/password", dependencies=[Depends(verify_csrf)])
async def change_password(
    request: Request,
    user: SignedInUser,
    db: DatabaseDep,
    current_password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    new_password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    confirm_password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/tickets",
) -> Response:
    address = client_address(request)

    def change(s: Session) -> str:
        account = s.get(User, user.id)
        if account is None or not passwords.verify_password(account.password_hash, current_password):
            raise InvalidInput({"current_password": _("The current password is not correct.")})
        if new_password != confirm_password:
            raise InvalidInput({"confirm_password": _("The two new passwords are not the same.")})
        if new_password == current_password:
            raise InvalidInput({"new_password": _("Choose a password different from the current one.")})
        service.check_password(new_password, field="new_password")
        service.set_password(s, account, new_password)
        token, _session = service.start_web_session(s, account, address=address)
        return token

    try:
        token = await db.run(change)
    except InvalidInput as exc:
        context = {"next": safe_next(next), "errors": exc.fields, "forced": user.must_change_password}
        return await render(request, "account/password.html", context, status_code=422)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, request.app.state.settings, token)
    return response
