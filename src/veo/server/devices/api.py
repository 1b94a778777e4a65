"""``/api/v1``: enrolment (public), device groups and enrolment tokens (admins), devices and
connecting to one (technicians of the device's group).

``POST /api/v1/enrol`` is the one route without an account: the token is the credential. Each
address group may fail a few times per window (a :class:`RedemptionLimiter` of its own, on Redis
with ``VEO_REDIS_URL`` so every node counts together); every attempt is counted before the token
is looked up and only a successful enrolment is forgiven, so the audit log gets at most a few
``device.enrol_refused`` rows per address and window.

After a commit that the device must hear about, the route tells the node holding the device's
socket (``devices/line.py``): a session request, or a revocation.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from veo.config import Settings
from veo.protocol.device import EnrolRequest, EnrolResponse
from veo.server.addresses import client_address
from veo.server.api.params import Printable, RowId
from veo.server.api.schemas import ErrorOut, error_responses
from veo.server.auth.deps import AdminUser, CurrentUser
from veo.server.db.base import utcnow
from veo.server.db.deps import DatabaseDep
from veo.server.devices import connect, enrol, groups, service, tokens
from veo.server.devices.errors import DeviceError
from veo.server.devices.line import DeviceLine
from veo.server.devices.schemas import (
    ConnectIn,
    ConnectOut,
    DeviceDetail,
    DeviceIdPath,
    DeviceOut,
    GroupId,
    GroupIn,
    GroupOut,
    TokenCreated,
    TokenIdPath,
    TokenIn,
    TokenOut,
)
from veo.server.sessions import service as sessions
from veo.server.sessions import txn
from veo.server.sessions.access import api_error
from veo.server.sessions.ratelimit import LimiterUnavailable, RedemptionLimiter

log = logging.getLogger(__name__)


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``error_responses`` plus the statuses only device routes answer."""
    extra = {
        403: "Refused; `code` says why (for enrolment: `token_unknown`, `token_used`, `token_expired`, "
        "`token_revoked`).",
        409: "The device or token is not in a state that allows this (`device_revoked`, `device_offline`, "
        "`token_not_active`, `key_in_use`).",
        429: "Too many enrolment attempts from this address (`enrol_throttled`); see `Retry-After`.",
    }
    known = error_responses(*(s for s in statuses if s not in extra))
    return known | {s: {"model": ErrorOut, "description": extra[s]} for s in statuses if s in extra}


public_router = APIRouter(prefix="/api/v1", tags=["devices"])
admin_router = APIRouter(
    prefix="/api/v1/admin", tags=["devices"], responses=error_responses(401, 403, 404, 422)
)
router = APIRouter(prefix="/api/v1/devices", tags=["devices"], responses=error_responses(401, 403, 404, 422))

#: Failed enrolments an address group may have per window (a few typos, not a guessing run).
ENROL_MAX_FAILURES = 10
ENROL_WINDOW_SECONDS = 600.0


def _line(app: FastAPI) -> DeviceLine | None:
    """This node's device line (``devices/routes.py``), None in an app built without it."""
    line: DeviceLine | None = getattr(app.state, "device_line", None)
    return line


def create_enrol_limiter(settings: Settings) -> RedemptionLimiter:
    """Redis (keys ``veo:enrol:limit:...``) when ``VEO_REDIS_URL`` is set, else this node's memory."""
    rules: dict[str, Any] = {
        "max_failures": ENROL_MAX_FAILURES,
        "window_seconds": ENROL_WINDOW_SECONDS,
        "prefix_max_failures": 4 * ENROL_MAX_FAILURES,
        "flood_max_failures": 3,
        "base_delay": 0.25,
        "max_delay": 4.0,
    }
    if not settings.redis_url:
        return RedemptionLimiter(**rules)
    from veo.server.sessions.ratelimit_redis import RedisStore

    return RedemptionLimiter(store=RedisStore.from_url(settings.redis_url, prefix="veo:enrol:"), **rules)


def install(app: FastAPI) -> None:
    """The routers and the enrolment limiter (closed at shutdown)."""
    limiter = create_enrol_limiter(app.state.settings)
    app.state.enrol_limiter = limiter
    app.state.shutdown_hooks.append(limiter.close)
    app.include_router(public_router)
    app.include_router(admin_router)
    app.include_router(router)


# ---------------------------------------------------------------- enrolment (public)


def _throttled(wait: float) -> JSONResponse:
    error = DeviceError("enrol_throttled")
    return JSONResponse(
        {"code": error.code, "message": error.message},
        status_code=429,
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )


@public_router.post(
    "/enrol",
    response_model=EnrolResponse,
    status_code=201,
    responses=_responses(403, 409, 422, 429),
)
async def enrol_device(body: EnrolRequest, request: Request, db: DatabaseDep) -> Response:
    settings: Settings = request.app.state.settings
    limiter: RedemptionLimiter = request.app.state.enrol_limiter
    address = client_address(request)
    try:
        slot = await limiter.enter(address)
    except LimiterUnavailable:
        raise DeviceError("enrol_unavailable") from None
    if slot is None:
        return _throttled(limiter.busy_retry_after())
    try:
        try:
            decision = await limiter.attempt(slot)
        except LimiterUnavailable:
            raise DeviceError("enrol_unavailable") from None
        if not decision.allowed:
            return _throttled(decision.retry_after)
        if decision.delay:
            await asyncio.sleep(decision.delay)
        result = await db.run(
            lambda s: enrol.enrol(s, body, address=address, organization=settings.organization)
        )
        if isinstance(result, enrol.Refused):
            raise DeviceError(result.code)
        await limiter.forgive(slot)
    finally:
        await limiter.leave(slot)
    return JSONResponse(result.model_dump(mode="json"), status_code=201)


# ---------------------------------------------------------------- groups and tokens (admins)


@admin_router.get("/device-groups", response_model=list[GroupOut])
async def list_groups(user: AdminUser, db: DatabaseDep) -> list[GroupOut]:
    return [GroupOut.of(g) for g in await db.run(groups.list_groups)]


@admin_router.post("/device-groups", response_model=GroupOut, status_code=201)
async def create_group(body: GroupIn, request: Request, user: AdminUser, db: DatabaseDep) -> GroupOut:
    address = client_address(request)
    fields = body.model_dump()  # name, policy, roles, description: as the admin page passes them
    group = await txn.run(db, lambda s: groups.create_group(s, **fields, actor=user, address=address))
    return GroupOut.of(group)


@admin_router.put("/device-groups/{group_id}", response_model=GroupOut)
async def update_group(
    group_id: GroupId, body: GroupIn, request: Request, user: AdminUser, db: DatabaseDep
) -> GroupOut:
    address = client_address(request)
    fields = body.model_dump()
    group = await txn.run(
        db, lambda s: groups.update_group(s, group_id, **fields, actor=user, address=address)
    )
    return GroupOut.of(group)


@admin_router.get("/enrolment-tokens", response_model=list[TokenOut])
async def list_tokens(user: AdminUser, db: DatabaseDep) -> list[TokenOut]:
    now = utcnow()
    return [TokenOut.of(t, now) for t in await db.run(tokens.list_tokens)]


def enrol_command(public_url: str, secret: str) -> str:
    """What IT runs on the device (as root, so that the service can be installed).

    The token goes in on standard input (``--token -``), never in the arguments: those of every
    process are readable by every local user (``/proc/<pid>/cmdline``) and ``sudo`` logs them, so
    another account on the device could spend the token first (review R1-3). ``printf`` is a
    builtin of every common shell: it is no process of its own. ``veo-agent`` is what the agent's
    ``.deb``/``.rpm`` installs. One line, so that one Copy button is all IT needs.
    """
    import shlex

    return (
        f"printf '%s\\n' {shlex.quote(secret)} | "
        f"sudo veo-agent enrol --server {shlex.quote(public_url)} --token -"
    )


@admin_router.post("/enrolment-tokens", response_model=TokenCreated, status_code=201)
async def create_token(body: TokenIn, request: Request, user: AdminUser, db: DatabaseDep) -> TokenCreated:
    """The token is in this answer only: it is stored as its SHA-256."""
    settings: Settings = request.app.state.settings
    address = client_address(request)
    token, secret = await txn.run(
        db,
        lambda s: tokens.create_token(
            s,
            group_id=body.group_id,
            label=body.label,
            unattended=body.unattended,
            ttl_hours=body.ttl_hours,
            creator=user,
            address=address,
        ),
    )
    out = TokenOut.of(token, utcnow())
    return TokenCreated(**out.model_dump(), token=secret, command=enrol_command(settings.public_url, secret))


@admin_router.post("/enrolment-tokens/{token_id}/revoke", response_model=TokenOut, responses=_responses(409))
async def revoke_token(token_id: TokenIdPath, request: Request, user: AdminUser, db: DatabaseDep) -> TokenOut:
    address = client_address(request)
    token = await db.run(lambda s: tokens.revoke_token(s, token_id, actor=user, address=address))
    return TokenOut.of(token, utcnow())


# ---------------------------------------------------------------- devices (technicians)


@router.get("", response_model=list[DeviceOut])
async def list_devices(
    user: CurrentUser, db: DatabaseDep, group_id: RowId | None = None, search: Printable = ""
) -> list[DeviceOut]:
    """The devices of the caller's groups (all of them for admins)."""
    now = utcnow()
    found = await db.run(lambda s: service.visible_devices(s, user, group_id=group_id, search=search[:120]))
    return [DeviceOut.of(d, now) for d in found]


@router.get("/{device_id}", response_model=DeviceDetail)
async def get_device(device_id: DeviceIdPath, user: CurrentUser, db: DatabaseDep) -> DeviceDetail:
    def work(s: Any) -> DeviceDetail:
        device = service.get_visible(s, user, device_id)
        if device is None:
            raise DeviceError("device_not_found")
        out = DeviceOut.of(device, utcnow())
        return DeviceDetail(**out.model_dump(), allowed_modes=list(service.allowed_modes(s, device, user)))

    return await db.run(work)


@router.post("/{device_id}/revoke", response_model=DeviceOut)
async def revoke_device(
    device_id: DeviceIdPath, request: Request, user: AdminUser, db: DatabaseDep
) -> DeviceOut:
    """The device's key stops working now; the device is told to forget its enrolment."""
    address = client_address(request)
    device = await db.run(
        lambda s: service.revoke_device(s, device_id, by="server", actor=user.email, address=address)
    )
    line = _line(request.app)
    if line is not None:
        await line.revoked(device_id)
    return DeviceOut.of(device, utcnow())


@router.post(
    "/{device_id}/sessions",
    response_model=ConnectOut,
    status_code=201,
    responses=_responses(401, 403, 404, 409, 422),
)
async def connect_device(
    device_id: DeviceIdPath, body: ConnectIn, request: Request, user: CurrentUser, db: DatabaseDep
) -> ConnectOut:
    """A session on the device: ``reason`` or ``ticket_id`` required; the console opens at
    ``console_url`` while the device is asked to start it."""
    settings: Settings = request.app.state.settings
    try:
        session, session_request = await connect.connect_committed(
            db,
            connect.ConnectAsk(
                device_id=device_id,
                user=user,
                reason=body.reason,
                ticket_id=body.ticket_id,
                mode=body.mode,
                permissions=body.permissions,
                ttl_seconds=settings.session_code_ttl_seconds,
                address=client_address(request),
                organization=settings.organization,
            ),
        )
    except sessions.SessionError as exc:
        raise api_error(exc) from None
    line = _line(request.app)
    if line is not None:
        await line.request_session(device_id, session_request)
    return ConnectOut(
        id=session.id,
        ticket_id=session.ticket_id,
        device_id=device_id,
        policy=session_request.policy,
        reason=session_request.reason,
        console_url=f"{settings.public_url}/sessions/{session.id}/console",
        status=session.status,
    )
