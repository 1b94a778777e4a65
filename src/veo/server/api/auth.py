"""``POST /api/v1/auth/token``: trade e-mail and password for a bearer token (scripts, the CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from veo.server.addresses import client_address
from veo.server.api.params import PRINTABLE_PATTERN
from veo.server.api.schemas import ErrorOut, error_responses
from veo.server.auth import login as attempts
from veo.server.auth import passwords, service
from veo.server.db.deps import DatabaseDep
from veo.server.errors import ApiError
from veo.server.lang import _

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
TOKEN_ERRORS = {
    **error_responses(401, 403, 413, 422),
    429: {
        "model": ErrorOut,
        "description": "Too many failed sign-ins (`account_locked`, `too_many_requests`); wait and retry.",
    },
}


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320, pattern=PRINTABLE_PATTERN)
    password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)
    totp: str | None = Field(
        default=None,
        max_length=40,
        pattern=PRINTABLE_PATTERN,
        description="The current 6-digit code (or a recovery code) when the account has two-factor sign-in.",
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


@router.post("/token", response_model=TokenOut, responses=TOKEN_ERRORS)
async def issue_token(body: TokenRequest, request: Request, db: DatabaseDep) -> TokenOut:
    """Both factors in one request; refusals count toward the same limits as the sign-in page."""
    address = client_address(request)

    outcome = await attempts.in_thread(
        attempts.check_password_step, db, body.email, body.password, address=address
    )
    user = outcome.user
    if user is not None and await db.run(lambda s: attempts.needs_second_factor(s, user)):
        if not body.totp:
            outcome = attempts.Outcome(None, attempts.Refusal.TOTP_REQUIRED)
        else:
            outcome = await attempts.in_thread(
                attempts.check_second_factor, db, user, body.totp, address=address
            )
    if outcome.user is None:
        assert outcome.refusal is not None
        raise ApiError(outcome.status, outcome.refusal.value, outcome.message())
    signed_in = outcome.user

    def issue(s: Session) -> TokenOut:
        if signed_in.must_change_password:
            raise ApiError(
                403, "password_change_required", _("Set a new password at /account/password first.")
            )
        if attempts.must_enrol(s, signed_in):
            raise ApiError(
                403,
                "totp_required",
                _("Your role requires two-factor sign-in: enrol at /account/totp first."),
            )
        attempts.succeeded(s, signed_in, address=address)
        token, expires = service.issue_api_token(s, signed_in, address=address)
        return TokenOut(access_token=token, expires_at=expires)

    return await db.run(issue)
