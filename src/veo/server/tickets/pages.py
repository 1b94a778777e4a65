"""Ticket pages: the list with its filter bar, the new-ticket form, and the detail page.

The detail page shows, in its header, the ticket's state and the main action (start a remote
session, or the code of the one waiting, with copy buttons); below, the conversation, the remote
sessions, their audit trail and the field history; at the side, the controls that change status,
priority, category and assignee. Every form posts with the session's CSRF token; a refused
change re-renders the page with the reason and stores nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from veo.protocol.permissions import Permission
from veo.server.addresses import client_address
from veo.server.auth.deps import CurrentUser, identify
from veo.server.db.deps import DatabaseDep
from veo.server.errors import ApiError, InvalidInput
from veo.server.files import service as attachment_service
from veo.server.handlers import describe_validation
from veo.server.lang import _
from veo.server.notify.status import ticket_notices
from veo.server.policies.service import policy_for_user
from veo.server.sessions import txn
from veo.server.tickets import service, views
from veo.server.tickets.formatting import HELPERS
from veo.server.tickets.lifecycle import TRANSITIONS
from veo.server.tickets.models import TICKET_CHANNELS, TICKET_PRIORITIES, TICKET_STATUSES
from veo.server.tickets.schemas import TicketFilters, TicketId
from veo.server.tickets.search import SORTS, TicketQuery
from veo.server.web.templating import render

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form(max_length=20000)]
FILTER_KEYS = tuple(TicketFilters.model_fields)

#: What the start form can ask for: the agent implements viewing and control today.
SESSION_PERMISSIONS = (Permission.VIEW, Permission.CONTROL, Permission.CLIPBOARD, Permission.FILES)


def _base_context() -> dict[str, Any]:
    return {
        **HELPERS,
        "statuses": TICKET_STATUSES,
        "priorities": TICKET_PRIORITIES,
        "channels": TICKET_CHANNELS,
        "sorts": SORTS,
        "transitions": TRANSITIONS,
    }


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/tickets", status_code=303)


def _filters(request: Request) -> tuple[TicketFilters, str]:
    """The list's filters from the query string ("" = any); an error message for bad ones."""
    raw = {k: v.strip() for k, v in request.query_params.items() if k in FILTER_KEYS and v.strip()}
    try:
        return TicketFilters.model_validate(raw), ""
    except ValidationError as exc:
        return TicketFilters(), describe_validation(exc.errors())


@router.get("/tickets")
async def ticket_list(request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    filters, error = _filters(request)
    query = TicketQuery(**filters.model_dump())

    def work(s: Session) -> tuple[service.Page, views.Choices]:
        return service.search(s, query), views.choices(s)

    result, opts = await db.run(work)
    params = {k: str(v) for k, v in filters.model_dump(exclude_defaults=True).items() if k != "page"}
    context = {
        **_base_context(),
        "page": result,
        "filters": filters,
        "params": params,
        "choices": opts,
        "filter_error": error,
    }
    return await render(request, "tickets/list.html", context, status_code=422 if error else 200)


async def _new_form(
    request: Request, db: DatabaseDep, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    opts = await db.run(views.choices)
    context = {**_base_context(), "values": values, "errors": errors, "choices": opts}
    return await render(request, "tickets/new.html", context, status_code=status)


@router.get("/tickets/new")
async def new_ticket_form(request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    return await _new_form(request, db, {"priority": "normal", "channel": "phone"}, {})


@router.post("/tickets/new")
async def create_ticket(
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    title: FormText = "",
    description: FormText = "",
    requester_name: FormText = "",
    requester_email: FormText = "",
    requester_department: FormText = "",
    priority: FormText = "normal",
    channel: FormText = "phone",
    category_id: FormText = "",
    assignee_id: FormText = "",
) -> Response:
    values = {
        "title": title,
        "description": description,
        "requester_name": requester_name,
        "requester_email": requester_email,
        "requester_department": requester_department,
        "priority": priority,
        "channel": channel,
        "category_id": category_id,
        "assignee_id": assignee_id,
    }
    address = client_address(request)
    try:
        ticket = await txn.run(db, lambda s: service.create_ticket(s, values, creator=user, address=address))
    except InvalidInput as exc:
        return await _new_form(request, db, values, exc.fields, status=422)
    return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)


async def _detail(
    request: Request,
    db: DatabaseDep,
    ticket_id: int,
    *,
    errors: dict[str, str] | None = None,
    message: str = "",
    comment: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    view = await db.run(lambda s: views.load(s, ticket_id))
    notices = await db.run(lambda s: ticket_notices(s, ticket_id))
    viewer = (await identify(request)).user
    allowed = await db.run(lambda s: policy_for_user(s, viewer).max_permissions) if viewer else frozenset()
    public_url: str = request.app.state.settings.public_url
    context = {
        **_base_context(),
        "view": view,
        "ticket": view.ticket,
        "sessions": view.sessions,
        # The header's main action: the waiting code, the live session, or a new code.
        "now": views.session_now(view.sessions, public_url),
        "groups": view.groups,
        "errors": errors or {},
        "message": message,
        "comment": comment or {},
        "notices": notices,
        # The start form offers only what the technician's role may ask for (and the agent does).
        "requestable": [p.value for p in SESSION_PERMISSIONS if p in allowed],
        "attachments": await db.run(lambda s: attachment_service.list_for(s, ticket_id)),
    }
    return await render(request, "tickets/detail.html", context, status_code=status)


@router.get("/tickets/{ticket_id}")
async def ticket_detail(
    request: Request, ticket_id: TicketId, user: CurrentUser, db: DatabaseDep
) -> Response:
    return await _detail(request, db, ticket_id)


@router.post("/tickets/{ticket_id}/update")
async def update_ticket(
    request: Request,
    ticket_id: TicketId,
    user: CurrentUser,
    db: DatabaseDep,
    status: FormText = "",
    priority: FormText = "",
    category_id: FormText = "",
    assignee_id: FormText = "",
    resolution_note: Annotated[str | None, Form(max_length=20000)] = None,
) -> Response:
    """The detail page's controls; an empty status or priority means "leave as it is"."""
    values: dict[str, str | None] = {"category_id": category_id, "assignee_id": assignee_id}
    if status:
        values["status"] = status
    if priority:
        values["priority"] = priority
    if resolution_note is not None:
        values["resolution_note"] = resolution_note
    address = client_address(request)
    try:
        await txn.run(db, lambda s: service.update_ticket(s, ticket_id, values, actor=user, address=address))
    except InvalidInput as exc:
        return await _detail(request, db, ticket_id, errors=exc.fields, status=422)
    except ApiError as exc:
        if exc.status == 404:
            raise
        return await _detail(request, db, ticket_id, message=exc.message, status=exc.status)
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


@router.post("/tickets/{ticket_id}/comments")
async def add_comment(
    request: Request,
    ticket_id: TicketId,
    user: CurrentUser,
    db: DatabaseDep,
    body: FormText = "",
    visibility: FormText = "internal",
) -> Response:
    """A reply to the requester (``visibility=public``) or an internal note."""
    if visibility not in ("public", "internal"):
        errors = {"visibility": _("Choose whether this is a reply or an internal note.")}
        return await _detail(request, db, ticket_id, errors=errors, comment={"body": body}, status=422)
    address = client_address(request)

    def work(s: Session) -> None:
        ticket = service.get_ticket(s, ticket_id, for_update=True)
        service.add_comment(s, ticket, user, body, visibility == "public", address=address)

    try:
        await txn.run(db, work)
    except InvalidInput as exc:
        comment = {"body": body, "visibility": visibility}
        return await _detail(request, db, ticket_id, errors=exc.fields, comment=comment, status=422)
    return RedirectResponse(f"/tickets/{ticket_id}#comments", status_code=303)
