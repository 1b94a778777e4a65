"""Device pages: the list technicians pick from, a device's page with its Connect form, and the
administrators' page for device groups and enrolment tokens.

``/devices`` shows only the devices of groups the reader's role may use (``service.visible_devices``);
``/devices/{id}`` answers 404 for a device the reader may not see, exactly as for one that does
not exist, so the page says nothing about other groups. Connecting needs a reason (an open ticket
or a typed one); the modes offered are ``service.allowed_modes`` and the server checks them again
in ``connect.connect``. After the session is committed the device is told over its socket
(``device_line(app).request_session``) and the technician lands on the session's console.

Every form posts with the session's CSRF token (checked by the ``CurrentUser``/``AdminUser``
dependencies); a refused form re-renders its page with the reason next to the field and stores
nothing. A new enrolment token is shown once, on the page that answers its creation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from babel.dates import format_date, format_timedelta
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.protocol.device import DEVICE_POLICIES, DevicePolicy
from veo.protocol.permissions import Permission
from veo.server.addresses import client_address
from veo.server.auth.deps import AdminUser, CurrentUser
from veo.server.auth.models import ROLES, User
from veo.server.db.base import utcnow
from veo.server.db.deps import DatabaseDep
from veo.server.db.engine import Database
from veo.server.devices import connect, groups, service, tokens
from veo.server.devices.errors import DeviceError
from veo.server.devices.line import device_line
from veo.server.devices.models import Device, DeviceGroup, EnrolmentToken
from veo.server.errors import ApiError, InvalidInput
from veo.server.lang import _, get_language, ngettext
from veo.server.policies.labels import role_label
from veo.server.policies.service import policy_for_user
from veo.server.sessions import messages, txn
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.service import SessionError
from veo.server.tickets.formatting import HELPERS
from veo.server.tickets.models import Ticket
from veo.server.web import wording
from veo.server.web.templating import render

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form(max_length=2000)]
DevicePath = Annotated[str, Path(max_length=40)]
TokenPath = Annotated[str, Path(max_length=40)]

#: What the Connect form can ask for (the same as a ticket's start form).
SESSION_PERMISSIONS = (Permission.VIEW, Permission.CONTROL, Permission.CLIPBOARD, Permission.FILES)
#: Ticket states a technician may still give as the reason for connecting.
OPEN_TICKET_STATUSES = ("new", "open", "waiting")
#: How many open tickets the Connect form lists (the technician's own first, then the newest).
TICKET_CHOICES = 100
#: The validity choices of a new enrolment token, in hours.
TOKEN_TTL_CHOICES = (1, 8, 24, 72, 168, 720)


# ---------------------------------------------------------------- words


def policy_label(policy: str) -> str:
    """The policy's short name (a select option, a badge)."""
    return {
        "ask": _("Ask first"),
        "notify": _("Notify"),
        "unattended": _("Unattended"),
    }.get(policy, policy)


def policy_text(policy: str) -> str:
    """What the policy means for the person at the device, in one sentence."""
    return {
        "ask": _("The person at the device is asked at once and nothing starts without their Allow."),
        "notify": _(
            "The session starts at once; the person at the device sees who connected and why, "
            "and can stop it."
        ),
        "unattended": _(
            "The session starts with nobody answering (roles allowed unattended access, devices "
            "enrolled for it); the session bar stays visible."
        ),
    }.get(policy, policy)


def mode_label(mode: str) -> str:
    """A connection mode as the Connect form offers it."""
    return {
        "ask": _("Ask the person at the device"),
        "notify": _("Start and notify the person at the device"),
        "unattended": _("Unattended (nobody needs to answer)"),
    }.get(mode, mode)


def token_status_label(status: str) -> str:
    """A token's state (its own words: a token is not a session, and Spanish gives it a gender)."""
    return {
        "active": _("Unused"),
        "used": _("Used"),
        "expired": _("Expired unused"),
        "revoked": _("Revoked"),
    }.get(status, status)


def day(value: datetime | None) -> str:
    """A date without the time ("8 Oct 2026"): when a device was enrolled."""
    if value is None:
        return "—"
    return format_date(value, format="medium", locale=get_language())


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, as people say it ("2 days ago", "hace 2 días"): when a device was last seen."""
    if value is None:
        return "—"
    moment = now or utcnow()
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_timedelta(value - moment, add_direction=True, locale=get_language())


def ttl_label(hours: int) -> str:
    """A token's validity as people say it: "1 day", "8 hours"."""
    if hours % 24 == 0:
        days = hours // 24
        return ngettext("%(num)d day", "%(num)d days", days) % {"num": days}
    return ngettext("%(num)d hour", "%(num)d hours", hours) % {"num": hours}


def roles_text(roles: list[str]) -> str:
    """The roles a group names, in words ("Technician, Lead"); none: administrators only."""
    return ", ".join(role_label(r) for r in roles) or _("administrators only")


WORDS: dict[str, Any] = {
    "roles_text": roles_text,
    **HELPERS,
    "policy_label": policy_label,
    "policy_text": policy_text,
    "mode_label": mode_label,
    "token_status_label": token_status_label,
    "day": day,
    "ago": ago,
    "ttl_label": ttl_label,
    "role_label": role_label,
}


# ---------------------------------------------------------------- the list


@dataclass(frozen=True)
class DeviceRow:
    device: Device
    online: bool


def _visible_groups(db: Session, user: User) -> list[DeviceGroup]:
    return [g for g in groups.list_groups(db) if service.may_see(user, g)]


def _group_filter(raw: str) -> int | None:
    """The list's group filter: a group id, or None for "every group" (junk counts as none)."""
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 9:
        return None
    return int(raw)


@router.get("/devices")
async def device_list(
    request: Request, user: CurrentUser, db: DatabaseDep, group: str = "", q: str = ""
) -> Response:
    group_id = _group_filter(group)
    search = q.strip()[:120]

    def read(s: Session) -> dict[str, Any]:
        now = utcnow()
        choices = _visible_groups(s, user)
        # A group the reader may not use is no filter at all: it shows nothing of that group.
        chosen = group_id if any(g.id == group_id for g in choices) else None
        rows = [
            DeviceRow(d, service.is_online(d, now))
            for d in service.visible_devices(s, user, group_id=chosen, search=search)
        ]
        return {"rows": rows, "groups": choices, "group_id": chosen, "q": search}

    context = {**WORDS, **await db.run(read), "is_admin": user.role == "admin"}
    return await render(request, "devices/list.html", context)


# ---------------------------------------------------------------- one device


@dataclass
class ConnectForm:
    """What the technician typed, kept when the form comes back with an error."""

    ticket_id: str = ""
    reason: str = ""
    mode: str = ""
    permissions: tuple[str, ...] = ("view", "control")


def _open_tickets(db: Session, user: User) -> list[Ticket]:
    stmt = (
        select(Ticket)
        .where(Ticket.status.in_(OPEN_TICKET_STATUSES))
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(TICKET_CHOICES)
    )
    found = list(db.scalars(stmt).unique())
    return sorted(found, key=lambda t: t.assignee_id != user.id)  # stable: own first, newest first


async def _device_page(
    request: Request,
    db: Database,
    user: User,
    device_id: str,
    *,
    form: ConnectForm | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    status: int = 200,
) -> Response:
    def read(s: Session) -> dict[str, Any]:
        device = service.get_visible(s, user, device_id)
        if device is None:
            raise DeviceError("device_not_found")
        modes = service.allowed_modes(s, device, user)
        allowed = policy_for_user(s, user).max_permissions
        sessions: list[RemoteSession] = service.device_sessions(s, device.id)
        return {
            "device": device,
            "online": service.is_online(device, utcnow()),
            "modes": modes,
            "requestable": [p.value for p in SESSION_PERMISSIONS if p in allowed],
            "sessions": sessions,
            "tickets": _open_tickets(s, user) if modes else [],
            "unattended_note": _unattended_note(s, device, user, modes),
        }

    data = await db.run(read)
    modes: list[DevicePolicy] = data["modes"]
    shown = form or ConnectForm()
    if shown.mode not in modes:
        # default: the group's policy, or the strongest mode this technician may use below it
        group_policy = data["device"].group.policy
        shown.mode = group_policy if group_policy in modes else (modes[-1] if modes else "")
    context = {
        **WORDS,
        **data,
        "form": shown,
        "errors": errors or {},
        "message": message,
        "is_admin": user.role == "admin",
    }
    return await render(request, "devices/detail.html", context, status_code=status)


def _unattended_note(db: Session, device: Device, user: User, modes: list[DevicePolicy]) -> str:
    """Why unattended access is not offered although the group's policy allows it (else "")."""
    if device.group.policy != "unattended" or "unattended" in modes or not modes:
        return ""
    if not device.unattended:
        return _("Unattended access is not offered: this device was not enrolled for it.")
    return _("Unattended access is not offered: your role does not allow it.")


@router.get("/devices/{device_id}")
async def device_detail(
    request: Request, device_id: DevicePath, user: CurrentUser, db: DatabaseDep
) -> Response:
    return await _device_page(request, db, user, device_id)


#: connect() refusals shown next to a field rather than above the form.
FIELD_OF_CODE = {
    "reason_required": "reason",
    "reason_too_long": "reason",
    "reason_invalid": "reason",
    "ticket_not_found": "ticket_id",
    "ticket_not_open": "ticket_id",
    "mode_not_allowed": "mode",
    "unattended_not_allowed": "mode",
    "unattended_not_enrolled": "mode",
}


@router.post("/devices/{device_id}/connect")
async def connect_device(
    request: Request,
    device_id: DevicePath,
    user: CurrentUser,
    db: DatabaseDep,
    ticket_id: FormText = "",
    reason: FormText = "",
    mode: FormText = "",
) -> Response:
    """Start a session on the device; success lands on the session's console."""
    raw = await request.form()
    permissions = tuple(v for v in raw.getlist("permissions") if isinstance(v, str))
    form = ConnectForm(ticket_id=ticket_id.strip(), reason=reason, mode=mode, permissions=permissions)
    ticket: int | None = None
    if form.ticket_id:
        if not form.ticket_id.isdigit() or len(form.ticket_id) > 9:
            errors = {"ticket_id": _("Choose one of the open tickets, or none.")}
            return await _device_page(request, db, user, device_id, form=form, errors=errors, status=422)
        ticket = int(form.ticket_id)
    chosen: DevicePolicy | None = next((p for p in DEVICE_POLICIES if p == mode), None)
    if mode and chosen is None:
        errors = {"mode": _("Choose one of the connection modes offered.")}
        return await _device_page(request, db, user, device_id, form=form, errors=errors, status=422)
    settings = request.app.state.settings
    try:
        session, session_request = await connect.connect_committed(
            db,
            connect.ConnectAsk(
                device_id=device_id,
                user=user,
                reason=reason,
                ticket_id=ticket,
                mode=chosen,
                permissions=list(permissions),
                ttl_seconds=settings.session_code_ttl_seconds,
                address=client_address(request),
                organization=wording.organization(settings.organization),
            ),
        )
    except InvalidInput as exc:
        return await _device_page(request, db, user, device_id, form=form, errors=exc.fields, status=422)
    except SessionError as exc:  # a permission the role does not allow
        errors = {"permissions": messages.error_text(exc.code, exc.detail)}
        return await _device_page(request, db, user, device_id, form=form, errors=errors, status=422)
    except ApiError as exc:
        if exc.code == "device_not_found":
            raise
        field = FIELD_OF_CODE.get(exc.code)
        errors = {field: exc.message} if field else {}
        return await _device_page(
            request,
            db,
            user,
            device_id,
            form=form,
            errors=errors,
            message="" if field else exc.message,
            status=exc.status,
        )
    await device_line(request.app).request_session(device_id, session_request)
    return RedirectResponse(f"/sessions/{session.id}/console", status_code=303)


@router.post("/devices/{device_id}/revoke")
async def revoke(request: Request, device_id: DevicePath, admin: AdminUser, db: DatabaseDep) -> Response:
    """End the device's enrolment now; the device is told at once and forgets its key."""
    address = client_address(request)
    await txn.run(
        db, lambda s: service.revoke_device(s, device_id, by="server", actor=admin.email, address=address)
    )
    await device_line(request.app).revoked(device_id)
    return RedirectResponse(f"/devices/{device_id}", status_code=303)


# ---------------------------------------------------------------- administration


@dataclass(frozen=True)
class TokenRow:
    token: EnrolmentToken
    status: str


@dataclass(frozen=True)
class CreatedToken:
    """The secret of a token just created: on this one page, never again."""

    label: str
    group: str
    command: str


def enrol_command(public_url: str, secret: str) -> str:
    """The same safe command as the REST answer's (the token on standard input: review R1-3)."""
    from veo.server.devices.api import enrol_command as the_command

    return the_command(public_url, secret)


async def _admin_page(
    request: Request,
    db: Database,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
    created: CreatedToken | None = None,
    message: str = "",
    status: int = 200,
) -> Response:
    def read(s: Session) -> dict[str, Any]:
        now = utcnow()
        all_groups = groups.list_groups(s)
        counts: dict[int, int] = {}
        for device in s.scalars(select(Device).where(Device.revoked_at.is_(None))).unique():
            counts[device.group_id] = counts.get(device.group_id, 0) + 1
        return {
            "groups": all_groups,
            "counts": counts,
            "tokens": [TokenRow(t, tokens.status(t, now)) for t in tokens.list_tokens(s)],
        }

    context = {
        **WORDS,
        **await db.run(read),
        "policies": DEVICE_POLICIES,
        "roles": [r for r in ROLES if r != groups.ADMIN_ROLE],  # administrators may always connect
        "ttl_choices": TOKEN_TTL_CHOICES,
        "default_ttl": tokens.DEFAULT_TTL_HOURS,
        "errors": errors or {},
        "values": values or {},
        "created": created,
        "message": message,
    }
    return await render(request, "devices/admin.html", context, status_code=status)


@router.get("/admin/devices")
async def admin_devices(request: Request, admin: AdminUser, db: DatabaseDep) -> Response:
    return await _admin_page(request, db)


def _group_values(form: Any) -> dict[str, Any]:
    return {
        "name": str(form.get("name") or ""),
        "policy": str(form.get("policy") or ""),
        "roles": [v for v in form.getlist("roles") if isinstance(v, str)],
        "description": str(form.get("description") or ""),
    }


async def _refused(
    request: Request, db: Database, key: str, exc: ApiError, values: dict[str, Any]
) -> Response:
    fields = exc.fields if isinstance(exc, InvalidInput) else {"form": exc.message}
    return await _admin_page(request, db, errors={key: fields}, values={key: values}, status=exc.status)


@router.post("/admin/devices/groups")
async def create_group(request: Request, admin: AdminUser, db: DatabaseDep) -> Response:
    values = _group_values(await request.form())
    address = client_address(request)
    try:
        await txn.run(db, lambda s: groups.create_group(s, **values, actor=admin, address=address))
    except ApiError as exc:
        return await _refused(request, db, "new_group", exc, values)
    return RedirectResponse("/admin/devices#groups", status_code=303)


@router.post("/admin/devices/groups/{group_id}")
async def edit_group(
    request: Request, group_id: Annotated[str, Path(max_length=12)], admin: AdminUser, db: DatabaseDep
) -> Response:
    values = _group_values(await request.form())
    address = client_address(request)
    gid = _group_filter(group_id)
    if gid is None:
        raise DeviceError("group_not_found")
    try:
        await txn.run(db, lambda s: groups.update_group(s, gid, **values, actor=admin, address=address))
    except ApiError as exc:
        if exc.status == 404:
            raise
        return await _refused(request, db, f"group-{gid}", exc, values)
    return RedirectResponse(f"/admin/devices#group-{gid}", status_code=303)


@router.post("/admin/devices/tokens")
async def create_token(
    request: Request,
    admin: AdminUser,
    db: DatabaseDep,
    group_id: FormText = "",
    label: FormText = "",
    ttl_hours: FormText = "",
    unattended: FormText = "",
) -> Response:
    values = {"group_id": group_id, "label": label, "ttl_hours": ttl_hours, "unattended": unattended == "yes"}
    gid = _group_filter(group_id)
    if gid is None:
        errors = {"new_token": {"group_id": _("Choose the group the device will join.")}}
        return await _admin_page(request, db, errors=errors, values={"new_token": values}, status=422)
    hours = int(ttl_hours) if ttl_hours.strip().isdigit() and len(ttl_hours.strip()) < 6 else -1
    address = client_address(request)

    def work(s: Session) -> tuple[str, str, str]:
        token, secret = tokens.create_token(
            s,
            group_id=gid,
            label=label,
            unattended=unattended == "yes",
            ttl_hours=hours,
            creator=admin,
            address=address,
        )
        return token.label, token.group.name, secret

    try:
        token_label, group_name, secret = await txn.run(db, work)
    except ApiError as exc:
        return await _refused(request, db, "new_token", exc, values)
    public_url: str = request.app.state.settings.public_url
    created = CreatedToken(label=token_label, group=group_name, command=enrol_command(public_url, secret))
    response = await _admin_page(request, db, created=created)
    # The one page that holds the secret: not kept by the browser's cache or the back button's copy.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/admin/devices/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: TokenPath, admin: AdminUser, db: DatabaseDep) -> Response:
    address = client_address(request)
    try:
        await txn.run(db, lambda s: tokens.revoke_token(s, token_id, actor=admin, address=address))
    except ApiError as exc:
        if exc.status == 404:
            raise
        return await _admin_page(request, db, message=exc.message, status=exc.status)
    return RedirectResponse("/admin/devices#tokens", status_code=303)
