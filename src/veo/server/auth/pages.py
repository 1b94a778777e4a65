"""Sign-in (password, then the TOTP code when enrolled), sign-out and password pages.

Forms posted by the browser, rendered by Jinja2. The sign-in forms have no session yet, hence no
CSRF token: :func:`veo.server.origins.same_origin` stands in for it. The TOTP step is tied to the
browser by its own short-lived cookie, and a full session (a fresh token) is created only once
both factors passed.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from veo.config import Settings
from veo.server.addresses import client_address
from veo.server.auth import login as attempts
from veo.server.auth import passwords, service
from veo.server.auth.cookies import (
    challenge_token,
    clear_challenge_cookie,
    clear_session_cookie,
    session_token,
    set_challenge_cookie,
    set_session_cookie,
)
from veo.server.auth.deps import SignedInUser, identify, verify_csrf
from veo.server.auth.models import User
from veo.server.db.deps import DatabaseDep
from veo.server.errors import ApiError, InvalidInput
from veo.server.lang import _
from veo.server.origins import same_origin
from veo.server.web.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None, default: str = "/tickets") -> str:
    """Only a local path: ``next`` must never send a signed-in user to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


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
    target = safe_next(next)

    if not (email and password):
        context = {"next": target, "email": email, "error": _("Enter your e-mail and password.")}
        return await render(request, "login.html", context, status_code=401)
    outcome = await attempts.in_thread(attempts.check_password_step, db, email, password, address=address)
    if outcome.user is None:
        context = {"next": target, "email": email, "error": outcome.message()}
        return await render(request, "login.html", context, status_code=outcome.status)
    user = outcome.user

    def sign_in(s: Session) -> tuple[str, bool]:
        if attempts.needs_second_factor(s, user):
            return attempts.start_challenge(s, user), True
        attempts.succeeded(s, user, address=address)
        token, _session = service.start_web_session(s, user, address=address)
        return token, False

    token, challenge = await db.run(sign_in)
    settings: Settings = request.app.state.settings
    if challenge:
        response = RedirectResponse("/login/totp?next=" + quote(target, safe=""), status_code=303)
        lifetime = int(attempts.CHALLENGE_LIFETIME.total_seconds())
        set_challenge_cookie(response, settings, token, lifetime)
        return response
    if outcome.user.must_change_password:
        target = "/account/password?next=" + quote(target, safe="")
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, settings, token)
    return response


@router.get("/login/totp")
async def totp_form(request: Request, db: DatabaseDep, next: str | None = None) -> Response:
    token = challenge_token(request)
    user = await db.run(lambda s: attempts.challenge_user(s, token)) if token else None
    if user is None:
        return RedirectResponse("/login?next=" + quote(safe_next(next), safe=""), status_code=303)
    return await render(request, "account/totp_login.html", {"next": safe_next(next), "error": None})


@router.post("/login/totp")
async def totp_login(
    request: Request,
    db: DatabaseDep,
    code: Annotated[str, Form(max_length=40)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/tickets",
) -> Response:
    """The second step: a TOTP or recovery code for the pending sign-in of this browser."""
    if not same_origin(request):
        raise ApiError(403, "csrf_failed", _("This form did not come from this site."))
    address = client_address(request)
    target = safe_next(next)
    challenge = challenge_token(request)

    user = await db.run(lambda s: attempts.challenge_user(s, challenge)) if challenge else None
    if user is None or challenge is None:
        return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
    outcome = await attempts.in_thread(attempts.check_second_factor, db, user, code, address=address)
    if outcome.user is None:
        context = {"next": target, "error": outcome.message()}
        return await render(request, "account/totp_login.html", context, status_code=outcome.status)
    signed_in = user

    def finish(s: Session) -> str:
        attempts.end_challenge(s, challenge)
        attempts.succeeded(s, signed_in, address=address)
        token, _session = service.start_web_session(s, signed_in, address=address)
        return token

    token = await db.run(finish)
    if user.must_change_password:
        target = "/account/password?next=" + quote(target, safe="")
    response = RedirectResponse(target, status_code=303)
    settings: Settings = request.app.state.settings
    clear_challenge_cookie(response, settings)
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


@router.post("/account/password")
async def change_password(
    request: Request,
    user: SignedInUser,
    db: DatabaseDep,
    current_password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    new_password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    confirm_password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/tickets",
) -> Response:
    """The current password is checked under the sign-in limits (same counters), and audited."""
    address = client_address(request)

    def change(s: Session) -> str:
        account = s.get(User, user.id)
        if account is None:
            raise InvalidInput({"current_password": _("The current password is not correct.")})
        service.set_password(s, account, new_password, address=address)
        token, _session = service.start_web_session(s, account, address=address)
        return token

    status = 422
    try:
        # The new password's own checks first: a typo there is no guess at the current one.
        if new_password != confirm_password:
            raise InvalidInput({"confirm_password": _("The two new passwords are not the same.")})
        if new_password == current_password:
            raise InvalidInput({"new_password": _("Choose a password different from the current one.")})
        service.check_password(new_password, field="new_password")
        checked = await attempts.in_thread(
            attempts.check_current_password, db, user, current_password, address=address
        )
        if checked.refusal is attempts.Refusal.INVALID_CREDENTIALS:
            raise InvalidInput({"current_password": _("The current password is not correct.")})
        if checked.user is None:
            status = checked.status
            raise InvalidInput({"current_password": checked.message()})
        token = await db.run(change)
    except InvalidInput as exc:
        context = {"next": safe_next(next), "errors": exc.fields, "forced": user.must_change_password}
        return await render(request, "account/password.html", context, status_code=status)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, request.app.state.settings, token)
    return response
