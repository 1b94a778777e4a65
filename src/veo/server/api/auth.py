"""``POST /api/v1/auth/token``: trade e-mail and password for a bearer token (scripts, the CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from veo.server.api.schemas import error_responses
from veo.server.auth import passwords, service
from veo.server.db.deps import DatabaseDep
from veo.server.errors import ApiError
from veo.server.lang import _

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


@router.post("/token", response_model=TokenOut, responses=error_responses(401, 403, 413, 422))
async def issue_token(body: TokenRequest, request: Request, db: DatabaseDep) -> TokenOut:
    address = request.client.host if request.client else ""

    def work(s: Session) -> TokenOut | None:
        user = service.authenticate(s, body.email, body.password, address=address)
        if user is None:
            return None
        if user.must_change_password:
            raise ApiError(
                403, "password_change_required", _("Set a new password at /account/password first.")
            )
        token, expires = service.issue_api_token(s, user, address=address)
        return TokenOut(access_token=token, expires_at=expires)

    result = await db.run(work)
    if result is None:
        raise ApiError(401, "invalid_credentials", _("Wrong e-mail or password."))
    return result
