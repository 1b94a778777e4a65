"""REST for accounts and roles: ``/api/v1/account`` (oneself) and ``/api/v1/admin`` (admins only).

Admin routes depend on :data:`veo.server.auth.deps.AdminUser`, which looks at the account behind
the cookie or token as it is now: a token minted by someone who has since been demoted or
deactivated cannot reach them. Every change is audited by the services these routes call.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from veo.protocol.resume import MAX_GRACE_SECONDS
from veo.server.addresses import client_address
from veo.server.api.params import RowId
from veo.server.api.schemas import ErrorOut, error_responses
from veo.server.auth import accounts, passwords, service, totp
from veo.server.auth.deps import AdminUser, CurrentUser, admin_user, current_user
from veo.server.auth.models import User
from veo.server.db.deps import DatabaseDep
from veo.server.policies import service as policies
from veo.server.policies.capabilities import Capability, ordered

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Would leave no active administrator (`last_admin`)."}
}
account_router = APIRouter(
    prefix="/api/v1/account",
    tags=["account"],
    responses=error_responses(401, 403),
    # Who first (401 before 403); then CSRF for a browser's cookie (a bearer token passes).
    dependencies=[Depends(current_user)],
)
admin_router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    responses=error_responses(401, 403, 422),
    dependencies=[Depends(admin_user)],
)
UserId = Annotated[RowId, Path(description="The account's id.")]


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    is_active: bool
    totp_enrolled: bool


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=40)


class UserCreated(BaseModel):
    user: UserOut
    one_time_password: str = Field(description="Shown once; the account must replace it at first sign-in.")


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str | None = Field(default=None, max_length=40)
    is_active: bool | None = None


class PolicyOut(BaseModel):
    role: str
    capabilities: list[Capability]
    totp_required: bool
    identity_before_control: bool
    max_file_bytes: int
    #: How long a user's grant waits for a lost connection to come back (0: no resume).
    resume_grace_seconds: int


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capabilities: list[Capability] = Field(max_length=len(Capability))
    totp_required: bool
    identity_before_control: bool
    #: The largest file a session may move or attach; omitted: unchanged.
    max_file_bytes: int | None = Field(default=None, ge=0, le=policies.MAX_FILE_LIMIT)
    #: How long a user's grant waits for a lost connection, in seconds (0: no resume); omitted: unchanged.
    resume_grace_seconds: int | None = Field(default=None, ge=0, le=MAX_GRACE_SECONDS)


class SignedOut(BaseModel):
    ended: int = Field(description="How many browser sessions and API tokens were ended.")


def _user_out(s: Session, user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        is_active=user.is_active,
        totp_enrolled=totp.is_enrolled(s, user),
    )


def _policy_out(policy: policies.RolePolicy) -> PolicyOut:
    return PolicyOut(
        role=policy.role,
        capabilities=ordered(policy.capabilities),
        totp_required=policy.totp_required,
        identity_before_control=policy.identity_before_control,
        max_file_bytes=policy.max_file_bytes,
        resume_grace_seconds=policy.resume_grace_seconds,
    )


@account_router.post("/sign-out-everywhere", response_model=SignedOut)
async def sign_out_everywhere(request: Request, user: CurrentUser, db: DatabaseDep) -> SignedOut:
    """End every browser session and API token of the caller, the token of this request too."""
    address = client_address(request)

    def work(s: Session) -> SignedOut:
        account = accounts.get_user(s, user.id)
        return SignedOut(ended=accounts.sign_out_everywhere(s, account, actor=account.email, address=address))

    return await db.run(work)


@admin_router.get("/users", response_model=list[UserOut])
async def list_users(admin: AdminUser, db: DatabaseDep) -> list[UserOut]:
    return await db.run(lambda s: [_user_out(s, u) for u in accounts.list_users(s)])


@admin_router.post("/users", response_model=UserCreated, status_code=201)
async def create_user(body: UserCreate, request: Request, admin: AdminUser, db: DatabaseDep) -> UserCreated:
    password = passwords.generate_password()

    def work(s: Session) -> UserCreated:
        user = service.create_user(
            s,
            body.email,
            name=body.name,
            role=body.role,
            password=password,
            must_change_password=True,
            actor=admin.email,
        )
        return UserCreated(user=_user_out(s, user), one_time_password=password)

    return await db.run(work)


@admin_router.patch(
    "/users/{user_id}", response_model=UserOut, responses={404: {"model": ErrorOut}, **CONFLICT}
)
async def update_user(
    user_id: UserId, body: UserPatch, request: Request, admin: AdminUser, db: DatabaseDep
) -> UserOut:
    address = client_address(request)

    def work(s: Session) -> UserOut:
        user = accounts.get_user(s, user_id)
        if body.role is not None:
            accounts.set_role(s, user, body.role, actor=admin.email, address=address)
        if body.is_active is not None:
            accounts.set_active(s, user, body.is_active, actor=admin.email, address=address)
        return _user_out(s, user)

    return await db.run(work)


@admin_router.post(
    "/users/{user_id}/reset-totp", response_model=UserOut, responses={404: {"model": ErrorOut}}
)
async def reset_totp(user_id: UserId, request: Request, admin: AdminUser, db: DatabaseDep) -> UserOut:
    """Forget the account's TOTP (a lost phone); it enrols again at its next sign-in."""
    address = client_address(request)

    def work(s: Session) -> UserOut:
        user = accounts.get_user(s, user_id)
        totp.reset(s, user, actor=admin.email, address=address)
        return _user_out(s, user)

    return await db.run(work)


@admin_router.get("/roles", response_model=list[PolicyOut])
async def list_roles(admin: AdminUser, db: DatabaseDep) -> list[PolicyOut]:
    return await db.run(lambda s: [_policy_out(p) for p in policies.all_policies(s)])


@admin_router.put("/roles/{role}", response_model=PolicyOut)
async def set_role_policy(
    role: Annotated[str, Path(max_length=40)],
    body: PolicyIn,
    request: Request,
    admin: AdminUser,
    db: DatabaseDep,
) -> PolicyOut:
    address = client_address(request)

    def work(s: Session) -> PolicyOut:
        policy = policies.set_policy(
            s,
            role,
            capabilities=body.capabilities,
            totp_required=body.totp_required,
            identity_before_control=body.identity_before_control,
            max_file_bytes=body.max_file_bytes,
            resume_grace_seconds=body.resume_grace_seconds,
            actor=admin.email,
            address=address,
        )
        return _policy_out(policy)

    return await db.run(work)
