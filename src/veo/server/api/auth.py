"""``POST /api/v1/auth/token``: trade e-mail and password for a bearer token (scripts, the CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from veo.server.addresses import client_address
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

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)
    totp: str | None = Field(
        default=None,
        max_length=40,
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

    def work(s: Session) -> TokenOut | attempts.Outcome:
        outcome = attempts.check_password_step(s, body.email, body.password, address=address)
        user = outcome.user
        if user is None:
            return outcome
        if attempts.needs_second_factor(s, user):
            if not body.totp:
                return attempts.Outcome(None, attempts.Refusal.TOTP_REQUIRED)
            outcome = attempts.check_second_factor(s, user, body.totp, address=address)
            if outcome.user is None:
                return outcome
        if user.must_change_password:
            raise ApiError(
                403, "password_change_required", _("Set a new password at /account/password first.")
            )
        if attempts.must_enrol(s, user):
            raise ApiError(
                403,
                "totp_required",
                _("Your role requires two-factor sign-in: enrol at /account/totp first."),
            )
        attempts.succeeded(s, user, address=address)
        token, expires = service.issue_api_token(s, user, address=address)
        return TokenOut(access_token=token, expires_at=expires)

    result = await db.run(work)
    if isinstance(result, attempts.Outcome):
        assert result.refusal is not None
        raise ApiError(result.status, result.refusal.value, result.message())
    return result
