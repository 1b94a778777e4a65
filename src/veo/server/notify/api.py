"""``/api/v1``: rate a session (agent), e-mail a join link, the outbox log, webhook endpoints.

Rating is public but needs the session's rating token; the rest needs a technician, and the
outbox and webhooks need an admin. Writes retry on a lost audit race (``sessions.txn``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from veo.server.addresses import client_address
from veo.server.api.params import Offset, RowId
from veo.server.api.schemas import error_responses
from veo.server.audit.service import record
from veo.server.auth.deps import CurrentUser
from veo.server.auth.models import User
from veo.server.db.deps import DatabaseDep
from veo.server.errors import ApiError, NotFound
from veo.server.lang import _
from veo.server.notify import join_link, outbox, rating, webhooks
from veo.server.notify.models import OUTBOX_KINDS, OUTBOX_STATUSES, OutboxMessage
from veo.server.notify.schemas import (
    OutboxOut,
    OutboxPageOut,
    RatingIn,
    RatingOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)
from veo.server.notify.worker import OutboxWorker
from veo.server.sessions import txn

router = APIRouter(prefix="/api/v1", tags=["notifications"], responses=error_responses(401, 403, 404, 422))


def require_admin(user: User) -> None:
    if user.role != "admin":
        raise ApiError(403, "forbidden", _("Only administrators may do this."))


def _wake(request: Request) -> None:
    worker: OutboxWorker | None = getattr(request.app.state, "outbox_worker", None)
    if worker is not None:
        worker.wake()


@router.post(
    "/sessions/{session_id}/rating",
    response_model=RatingOut,
    responses={409: {"description": "`already_rated` or `session_not_ended`"}},
)
async def rate_session(session_id: str, body: RatingIn, request: Request, db: DatabaseDep) -> RatingOut:
    """The user's 1-5 rating after the session, authorized by the token the agent got in `joined`."""
    address = client_address(request)
    stored = await txn.run(
        db,
        lambda s: RatingOut.of(
            rating.rate(s, body.token, body.score, body.comment, session_id=session_id, address=address)
        ),
    )
    _wake(request)
    return stored


@router.post("/sessions/{session_id}/email-link", response_model=OutboxOut, status_code=202)
async def email_join_link(session_id: str, request: Request, user: CurrentUser, db: DatabaseDep) -> OutboxOut:
    """Queue an e-mail with the join link and code to the ticket's requester (waiting sessions only)."""
    address = client_address(request)

    def work(s: Session) -> OutboxOut:
        return OutboxOut.of(join_link.email_join_link(s, session_id, user, address=address))

    queued = await txn.run(db, work)
    _wake(request)
    return queued


@router.get("/outbox", response_model=OutboxPageOut)
async def list_outbox(
    user: CurrentUser,
    db: DatabaseDep,
    status: Annotated[str | None, Query(description="pending, sent or failed")] = None,
    kind: Annotated[str | None, Query(description="email or webhook")] = None,
    ticket_id: RowId | None = None,
    webhook_id: RowId | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> OutboxPageOut:
    """Every e-mail and webhook delivery with its attempts and last error (admins; a ticket's for all)."""
    if ticket_id is None or webhook_id is not None or kind == "webhook":
        require_admin(user)  # technicians see a ticket's e-mails; webhooks are for admins
    elif user.role != "admin":
        kind = "email"
    if status is not None and status not in OUTBOX_STATUSES:
        raise ApiError(
            422, "invalid_request", _("status: use one of %(v)s.") % {"v": ", ".join(OUTBOX_STATUSES)}
        )
    if kind is not None and kind not in OUTBOX_KINDS:
        allowed = ", ".join(OUTBOX_KINDS)
        raise ApiError(422, "invalid_request", _("kind: use one of %(v)s.") % {"v": allowed})
    page = await db.run(
        lambda s: outbox.list_messages(
            s,
            status=status,
            kind=kind,
            ticket_id=ticket_id,
            webhook_id=webhook_id,
            limit=limit,
            offset=offset,
        )
    )
    return OutboxPageOut(
        items=[OutboxOut.of(m) for m in page.items], total=page.total, limit=limit, offset=offset
    )


@router.post("/outbox/{message_id}/retry", response_model=OutboxOut)
async def retry_message(message_id: RowId, request: Request, user: CurrentUser, db: DatabaseDep) -> OutboxOut:
    """Try a failed or waiting message again now, with a fresh series of attempts."""
    require_admin(user)

    def work(s: Session) -> OutboxMessage:
        message = outbox.retry_now(s, message_id)
        if message is None:
            raise NotFound(_("Outbox message %(id)d does not exist.") % {"id": message_id})
        return message

    message = await db.run(work)
    _wake(request)
    return OutboxOut.of(message)


@router.get("/webhooks", response_model=list[WebhookOut])
async def list_webhooks(user: CurrentUser, db: DatabaseDep) -> list[WebhookOut]:
    require_admin(user)
    return await db.run(lambda s: [WebhookOut.of(e) for e in webhooks.list_endpoints(s)])


@router.post("/webhooks", response_model=WebhookCreated, status_code=201)
async def create_webhook(
    body: WebhookIn, request: Request, user: CurrentUser, db: DatabaseDep
) -> WebhookCreated:
    """Add an endpoint; the answer holds its signing secret (shown this once)."""
    require_admin(user)
    address = client_address(request)
    policy = request.app.state.settings.webhook_policy

    def work(s: Session) -> WebhookCreated:
        endpoint = webhooks.create_endpoint(s, body.model_dump(), policy)
        record(
            s,
            "webhook.created",
            actor=user.email,
            address=address,
            details={"id": endpoint.id, "url": endpoint.url, "events": endpoint.events},
        )
        return WebhookCreated(**WebhookOut.of(endpoint).model_dump(), secret=endpoint.secret)

    return await txn.run(db, work)


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: RowId, request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    require_admin(user)
    address = client_address(request)

    def work(s: Session) -> None:
        webhooks.delete_endpoint(s, webhook_id)
        record(s, "webhook.deleted", actor=user.email, address=address, details={"id": webhook_id})

    await txn.run(db, work)
    return Response(status_code=204)
