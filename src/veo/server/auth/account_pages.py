"""A technician's own account: two-factor enrolment, recovery codes, sign-out everywhere.

A user whose role requires TOTP and who has not enrolled is sent to ``/account/totp`` by
:func:`veo.server.auth.deps.current_user` before any other page, right after the password.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from veo.config import Settings
from veo.server.addresses import client_address
from veo.server.auth import accounts, totp
from veo.server.auth.cookies import clear_session_cookie
from veo.server.auth.deps import CurrentUser
from veo.server.auth.models import User
from veo.server.auth.pages import safe_next
from veo.server.db.deps import DatabaseDep
from veo.server.lang import _
from veo.server.policies.service import policy_for_user
from veo.server.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/account")
async def account(request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    def read(s: Session) -> dict[str, object]:
        return {
            "enrolled": totp.is_enrolled(s, user),
            "remaining": totp.remaining_recovery_codes(s, user),
            "policy": policy_for_user(s, user),
        }

    return await render(request, "account/index.html", await db.run(read))


def _issuer(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.organization or totp.ISSUER


async def _enrolment_page(
    request: Request, user: User, db: DatabaseDep, next: str, error: str | None, status: int = 200
) -> Response:
    issuer = _issuer(request)

    def prepare(s: Session) -> tuple[bool, totp.Enrolment | None, bool]:
        account = s.get(User, user.id)
        assert account is not None
        if totp.is_enrolled(s, account):
            return True, None, policy_for_user(s, account).totp_required
        return (
            False,
            totp.start_enrolment(s, account, issuer=issuer),
            policy_for_user(s, account).totp_required,
        )

    enrolled, enrolment, required = await db.run(prepare)
    context = {
        "enrolled": enrolled,
        "enrolment": enrolment,
        "required": required,
        "next": next,
        "error": error,
    }
    return await render(request, "account/totp.html", context, status_code=status)


@router.get("/account/totp")
async def totp_page(
    request: Request, user: CurrentUser, db: DatabaseDep, next: str | None = None
) -> Response:
    return await _enrolment_page(request, user, db, safe_next(next, "/account"), None)


@router.post("/account/totp")
async def confirm_totp(
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    code: Annotated[str, Form(max_length=40)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/account",
) -> Response:
    """The first code proves the app holds the secret; the recovery codes are shown this once."""
    address = client_address(request)

    def confirm(s: Session) -> list[str] | None:
        account = s.get(User, user.id)
        assert account is not None
        return totp.confirm_enrolment(s, account, code, address=address)

    codes = await db.run(confirm)
    if codes is None:
        error = _("That code did not match. Check the time on your phone and enter the current code.")
        return await _enrolment_page(request, user, db, safe_next(next, "/account"), error, status=422)
    context = {"codes": codes, "next": safe_next(next, "/account")}
    return await render(request, "account/recovery_codes.html", context)


@router.post("/account/sign-out-everywhere")
async def sign_out_everywhere(request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    """Ends every browser session and API token of the account, this browser's too."""
    address = client_address(request)

    def work(s: Session) -> None:
        account = s.get(User, user.id)
        assert account is not None
        accounts.sign_out_everywhere(s, account, actor=account.email, address=address)

    await db.run(work)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request.app.state.settings)
    return response
