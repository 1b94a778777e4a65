"""Pages: the public rating page ``/rate/<token>`` and the admins' outbox page.

The rating page needs no sign-in: the token in the address is the credential (a CSRF token
would add nothing, since a forger would need the token itself). It speaks the language the
requester's e-mail was written in unless they pick another.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from veo.config import SUPPORTED_LANGUAGES
from veo.server.addresses import client_address
from veo.server.api.params import RowId
from veo.server.audit.service import record
from veo.server.auth.deps import CurrentUser
from veo.server.db.deps import DatabaseDep
from veo.server.errors import ApiError, InvalidInput
from veo.server.lang import set_language
from veo.server.notify import join_link, outbox, rating, webhooks
from veo.server.notify.api import require_admin
from veo.server.notify.models import OUTBOX_KINDS, OUTBOX_STATUSES, WebhookEndpoint
from veo.server.notify.worker import OutboxWorker
from veo.server.sessions import txn
from veo.server.web.templating import render

router = APIRouter(include_in_schema=False)


def _context(s: Session, token: str) -> dict[str, Any]:
    request = rating.pending(s, token)
    ticket = rating.ticket_of(s, request)
    return {
        "token": token,
        "ticket_id": request.ticket_id,
        "ticket_title": ticket.title if ticket is not None else "",
        "already": request.rated_at is not None,
        "language": request.language,
        "errors": {},
        "score": "",
        "comment": "",
        "done": False,
    }


def _wake(request: Request) -> None:
    worker: OutboxWorker | None = getattr(request.app.state, "outbox_worker", None)
    if worker is not None:
        worker.wake()


def _use_language(request: Request, language: str) -> None:
    if request.query_params.get("lang") not in SUPPORTED_LANGUAGES and language in SUPPORTED_LANGUAGES:
        set_language(language)


@router.get("/rate/{token}")
async def rate_page(token: str, request: Request, db: DatabaseDep) -> Response:
    context = await db.run(lambda s: _context(s, token))
    _use_language(request, context["language"])
    return await render(request, "notify/rate.html", context)


@router.post("/rate/{token}")
async def rate_submit(
    token: str,
    request: Request,
    db: DatabaseDep,
    score: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    context = await db.run(lambda s: _context(s, token))
    _use_language(request, context["language"])
    address = client_address(request)
    try:
        await txn.run(db, lambda s: rating.rate(s, token, score, comment, address=address))
    except InvalidInput as exc:
        context.update(errors=exc.fields, score=score, comment=comment)
        return await render(request, "notify/rate.html", context, status_code=422)
    except ApiError as exc:
        if exc.code != "already_rated":
            raise
        context["already"] = True
        return await render(request, "notify/rate.html", context, status_code=409)
    _wake(request)
    context["done"] = True
    return await render(request, "notify/rate.html", context)


@router.post("/sessions/{session_id}/email-link")
async def email_join_link(session_id: str, request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    """The "E-mail the join link" button of the ticket page and of the console (``back=console``)."""
    address = client_address(request)
    message = await txn.run(db, lambda s: join_link.email_join_link(s, session_id, user, address=address))
    _wake(request)
    form = await request.form()
    if form.get("back") == "console":
        return RedirectResponse(f"/sessions/{session_id}/console?mailed=1", status_code=303)
    return RedirectResponse(f"/tickets/{message.ticket_id}#ticket-notices", status_code=303)


@router.get("/admin/outbox")
async def outbox_page(
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    status: Annotated[str | None, Query()] = None,
    kind: Annotated[str | None, Query()] = None,
) -> Response:
    require_admin(user)
    chosen = status if status in OUTBOX_STATUSES else None
    of_kind = kind if kind in OUTBOX_KINDS else None
    page = await db.run(lambda s: outbox.list_messages(s, status=chosen, kind=of_kind, limit=200))
    context = {
        "messages": page.items,
        "total": page.total,
        # Said once here for admins rather than on every ticket whose e-mail waits.
        "mail_configured": bool(request.app.state.settings.smtp_host),
    }
    return await render(request, "notify/outbox.html", context)


@router.post("/admin/outbox/{message_id}/retry")
async def outbox_retry(message_id: RowId, request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    require_admin(user)
    await db.run(lambda s: outbox.retry_now(s, message_id))
    _wake(request)
    return RedirectResponse("/admin/outbox", status_code=303)


async def _webhooks_page(
    request: Request,
    db: DatabaseDep,
    *,
    created: WebhookEndpoint | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    endpoints = await db.run(webhooks.list_endpoints)
    context = {
        "endpoints": endpoints,
        "created": created,
        "errors": errors or {},
        "values": values or {},
        "all_events": webhooks.WEBHOOK_EVENTS,
    }
    return await render(request, "notify/webhooks.html", context, status_code=status_code)


@router.get("/admin/webhooks")
async def webhooks_page(request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    require_admin(user)
    return await _webhooks_page(request, db)


@router.post("/admin/webhooks")
async def webhooks_add(request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    require_admin(user)
    form = await request.form()
    secret = form.get("secret")
    values: dict[str, Any] = {
        "url": form.get("url"),
        "events": [e for e in form.getlist("events") if isinstance(e, str)],
        "secret": secret if isinstance(secret, str) and secret.strip() else None,
    }
    address = client_address(request)
    policy = request.app.state.settings.webhook_policy

    def work(s: Session) -> WebhookEndpoint:
        endpoint = webhooks.create_endpoint(s, values, policy)
        record(
            s,
            "webhook.created",
            actor=user.email,
            address=address,
            details={"id": endpoint.id, "url": endpoint.url, "events": endpoint.events},
        )
        return endpoint

    try:
        endpoint = await txn.run(db, work)
    except InvalidInput as exc:
        return await _webhooks_page(request, db, errors=exc.fields, values=values, status_code=422)
    return await _webhooks_page(request, db, created=endpoint, status_code=201)


@router.post("/admin/webhooks/{webhook_id}/delete")
async def webhooks_delete(
    webhook_id: RowId, request: Request, user: CurrentUser, db: DatabaseDep
) -> Response:
    require_admin(user)
    address = client_address(request)

    def work(s: Session) -> None:
        webhooks.delete_endpoint(s, webhook_id)
        record(s, "webhook.deleted", actor=user.email, address=address, details={"id": webhook_id})

    await txn.run(db, work)
    return RedirectResponse("/admin/webhooks", status_code=303)
