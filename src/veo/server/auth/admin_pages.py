"""Admin pages: accounts (``/admin/users``) and role policies (``/admin/roles``).

Only administrators reach them (:data:`veo.server.auth.deps.AdminUser`; anyone else gets 403).
Each form posts one change with its CSRF token, then redirects back (post/redirect/get); a
refused change re-renders the page with the reason and leaves everything as it was.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from veo.protocol.resume import MAX_GRACE_SECONDS
from veo.server.addresses import client_address
from veo.server.api.params import RowId
from veo.server.auth import accounts, passwords, service, totp
from veo.server.auth.deps import AdminUser, admin_user
from veo.server.auth.models import ROLES
from veo.server.db.deps import DatabaseDep
from veo.server.db.engine import Database
from veo.server.errors import ApiError, InvalidInput
from veo.server.lang import _
from veo.server.policies import service as policies
from veo.server.policies.capabilities import Capability
from veo.server.policies.labels import capability_label, role_label
from veo.server.web.templating import render

# The admin check runs before CSRF, so a technician gets 403 ``forbidden`` whatever they send.
router = APIRouter(include_in_schema=False, dependencies=[Depends(admin_user)])
FormStr = Annotated[str, Form(max_length=320)]
UserId = Annotated[RowId, Path()]


async def _users_page(
    request: Request, db: Database, *, error: str | None = None, created: dict[str, str] | None = None
) -> Response:
    def read(s: Session) -> list[dict[str, Any]]:
        return [{"user": u, "totp": totp.is_enrolled(s, u)} for u in accounts.list_users(s)]

    context = {
        "rows": await db.run(read),
        "roles": ROLES,
        "error": error,
        "created": created,
        "role_label": role_label,
    }
    return await render(request, "admin/users.html", context, status_code=422 if error else 200)


@router.get("/admin/users")
async def users(request: Request, admin: AdminUser, db: DatabaseDep) -> Response:
    return await _users_page(request, db)


@router.post("/admin/users")
async def create_user(
    request: Request,
    admin: AdminUser,
    db: DatabaseDep,
    email: FormStr = "",
    name: FormStr = "",
    role: FormStr = "",
) -> Response:
    """A new account with a one-time password, shown once on the page that answers."""
    password = passwords.generate_password()

    def work(s: Session) -> str:
        user = service.create_user(
            s, email, name=name, role=role, password=password, must_change_password=True, actor=admin.email
        )
        return user.email

    try:
        created = await db.run(work)
    except ApiError as exc:
        return await _users_page(request, db, error=exc.message)
    return await _users_page(request, db, created={"email": created, "password": password})


async def _change(request: Request, db: Database, work: Any) -> Response:
    try:
        await db.run(work)
    except ApiError as exc:
        return await _users_page(request, db, error=exc.message)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/role")
async def change_role(
    user_id: UserId, request: Request, admin: AdminUser, db: DatabaseDep, role: FormStr = ""
) -> Response:
    address = client_address(request)

    def work(s: Session) -> None:
        accounts.set_role(s, accounts.get_user(s, user_id), role, actor=admin.email, address=address)

    return await _change(request, db, work)


@router.post("/admin/users/{user_id}/active")
async def change_active(
    user_id: UserId, request: Request, admin: AdminUser, db: DatabaseDep, active: FormStr = ""
) -> Response:
    address = client_address(request)

    def work(s: Session) -> None:
        accounts.set_active(
            s, accounts.get_user(s, user_id), active == "yes", actor=admin.email, address=address
        )

    return await _change(request, db, work)


@router.post("/admin/users/{user_id}/reset-totp")
async def reset_totp(user_id: UserId, request: Request, admin: AdminUser, db: DatabaseDep) -> Response:
    address = client_address(request)

    def work(s: Session) -> None:
        totp.reset(s, accounts.get_user(s, user_id), actor=admin.email, address=address)

    return await _change(request, db, work)


async def _roles_page(request: Request, db: Database, errors: dict[str, str] | None = None) -> Response:
    context = {
        "policies": await db.run(policies.all_policies),
        "capabilities": list(Capability),
        "errors": errors or {},
        "role_label": role_label,
        "capability_label": capability_label,
        "max_grace_seconds": MAX_GRACE_SECONDS,
    }
    return await render(request, "admin/roles.html", context, status_code=422 if errors else 200)


def _megabytes(value: object) -> int | None:
    """The roles form's "largest file" in MB (decimal), as bytes; absent or empty: unchanged."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        megabytes = float(value.strip().replace(",", "."))
    except ValueError:
        raise InvalidInput({"max_file_bytes": _("Enter the largest file as a number of MB.")}) from None
    if not 0 <= megabytes <= policies.MAX_FILE_LIMIT / 1_000_000:
        raise InvalidInput({"max_file_bytes": _("The largest file must be between 0 and 1,000,000 MB.")})
    return round(megabytes * 1_000_000)


def _grace_seconds(value: object) -> int | None:
    """The roles form's "wait for a lost connection" in seconds; absent or empty: unchanged."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidInput(
            {"resume_grace_seconds": _("Enter the time to wait for a lost connection as whole seconds.")}
        ) from None


@router.get("/admin/roles")
async def roles(request: Request, admin: AdminUser, db: DatabaseDep) -> Response:
    return await _roles_page(request, db)


@router.post("/admin/roles/{role}")
async def edit_role(
    role: Annotated[str, Path(max_length=40)], request: Request, admin: AdminUser, db: DatabaseDep
) -> Response:
    """Checkboxes: a ``capability`` field per ticked one, ``totp_required``, ``identity_before_control``."""
    form = await request.form()
    names = [v for v in form.getlist("capability") if isinstance(v, str)]
    address = client_address(request)

    def work(s: Session) -> None:
        known = {c.value for c in Capability}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InvalidInput(
                {"capabilities": _("Unknown permission: %(name)s.") % {"name": unknown[0][:40]}}
            )
        policies.set_policy(
            s,
            role,
            max_file_bytes=_megabytes(form.get("max_file_mb")),
            resume_grace_seconds=_grace_seconds(form.get("resume_grace_seconds")),
            capabilities={Capability(n) for n in names},
            totp_required=form.get("totp_required") == "yes",
            identity_before_control=form.get("identity_before_control") == "yes",
            actor=admin.email,
            address=address,
        )

    try:
        await db.run(work)
    except InvalidInput as exc:
        return await _roles_page(request, db, {role: exc.message})
    return RedirectResponse("/admin/roles", status_code=303)
