"""Session pages: start from a ticket, the technician console, note and end forms, the join page."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from veo.config import Settings
from veo.protocol import agent_config, codes
from veo.protocol.device import DeviceSession
from veo.protocol.permissions import ordered
from veo.server.addresses import client_address
from veo.server.api.params import RowId
from veo.server.auth.deps import CurrentUser
from veo.server.db.base import utcnow
from veo.server.db.deps import DatabaseDep
from veo.server.downloads import links, platforms
from veo.server.errors import ApiError
from veo.server.lang import _, get_language
from veo.server.policies.service import policy_for_user
from veo.server.sessions import service, starting, txn
from veo.server.sessions.access import api_error, load_for
from veo.server.sessions.device_view import device_session
from veo.server.sessions.hub import SignalingHub
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.schemas import agent_command, join_url
from veo.server.tickets import service as tickets_service
from veo.server.tickets.lifecycle import DONE
from veo.server.web.templating import render

router = APIRouter(include_in_schema=False)

#: A start form that shows permission checkboxes sends this too, so that "none ticked" is an
#: error rather than the default request (a plain "Start session" button sends neither).
PERMISSIONS_FIELD_MARKER = "permissions_shown"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("/tickets/{ticket_id}/sessions")
async def start_session(ticket_id: RowId, request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    form = await request.form()
    chosen = [v for v in form.getlist("permissions") if isinstance(v, str)]
    permissions = chosen if chosen or PERMISSIONS_FIELD_MARKER in form else None
    ttl = _settings(request).session_code_ttl_seconds
    address = client_address(request)
    try:
        session = await starting.start_session(
            db,
            ticket_id=ticket_id,
            technician=user,
            permissions=permissions,
            ttl_seconds=ttl,
            address=address,
        )
    except service.SessionError as exc:
        raise api_error(exc) from None
    return RedirectResponse(f"/sessions/{session.id}/console", status_code=303)


@router.post("/sessions/{session_id}/new-code")
async def new_code(session_id: str, request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    """The ticket page's *New code*: a code ran out unused, so start again with the same request.

    A new session (hence a new code) for the same ticket, asking for what the expired one asked;
    the expired session stays as it was, in the record. A session still waiting with a valid
    code, or one the user joined, needs no new code: back to the ticket. A managed device's
    session has no code to renew (its code is the device's alone): refused with a sentence.
    """
    old = await db.run(lambda s: load_for(s, session_id, user, write=True))
    if old.device_id is not None:
        message = _(
            "A session on a managed device has no code to renew: connect to the device again from its page."
        )
        raise ApiError(409, "device_session", message)
    still_valid = old.status == "waiting" and old.code_expires_at > utcnow()
    if old.status not in ("waiting", "expired") or still_valid:
        return RedirectResponse(f"/tickets/{old.ticket_id}", status_code=303)
    try:
        fresh = await starting.start_session(
            db,
            ticket_id=old.ticket_id,
            technician=user,
            permissions=list(old.requested_permissions),
            ttl_seconds=_settings(request).session_code_ttl_seconds,
            address=client_address(request),
        )
    except service.SessionError as exc:
        raise api_error(exc) from None
    # The console's *New code* (back=console) stays in a console, on the new session's code.
    if (await request.form()).get("back") == "console":
        return RedirectResponse(f"/sessions/{fresh.id}/console", status_code=303)
    return RedirectResponse(f"/tickets/{old.ticket_id}#remote-support", status_code=303)


def _with_device(session: RemoteSession, db: Session) -> tuple[RemoteSession, DeviceSession | None]:
    return session, device_session(db, session)


@router.get("/sessions/{session_id}/console")
async def console(session_id: str, request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    session, device = await db.run(lambda s: _with_device(load_for(s, session_id, user, write=True), s))
    public_url = _settings(request).public_url
    # A managed device's join code travels only to the device (issue 17): never shown, not even here.
    code = session.code if session.status == "waiting" and device is None else None
    context = {
        "session": session,
        "device": device,
        "ticket": session.ticket,
        "code_display": codes.display(code),
        "join_url": join_url(public_url, code),
        "expires_at": session.code_expires_at,
        "ws_url": f"/ws/console?session={session.id}",
        "protocol_url": "/api/v1/protocol.json",
        "agent_command": agent_command(public_url, code),
        "download_url": public_url + links.PAGE,
        "max_file_bytes": await db.run(lambda s: policy_for_user(s, user).max_file_bytes),
        # what "Ask for more" may offer mid-session (the server checks again when asked)
        "ask_permissions": await db.run(
            lambda s: [p.value for p in ordered(policy_for_user(s, user).max_permissions)]
        ),
        "ticket_status": session.ticket.status,
    }
    return await render(request, "console.html", context)


@router.post("/sessions/{session_id}/note")
async def save_note(
    session_id: str,
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    note: Annotated[str, Form(max_length=20_000)] = "",
    resolve: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """The console's note: *Save note* keeps it on the session; *Save and resolve the ticket*
    (``resolve=1``) also makes it the ticket's resolution and marks the ticket resolved, through
    the tickets service (history row, ``ticket.updated`` audit event, the "resolved" e-mail)."""
    address = client_address(request)

    def work(s: Session) -> int:
        session = load_for(s, session_id, user, write=True)
        service.add_note(s, session.id, note=note, actor=user.email)
        # A ticket resolved or closed since the console showed the button stays as it is (closed
        # cannot move to resolved): the note is kept on the session all the same.
        if resolve == "1" and session.ticket.status not in DONE:
            tickets_service.update_ticket(
                s,
                session.ticket_id,
                {"status": "resolved", "resolution_note": note.strip()},
                actor=user,
                address=address,
            )
        return session.ticket_id

    try:
        ticket_id = await txn.run(db, work)
    except service.SessionError as exc:
        raise api_error(exc) from None
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


@router.post("/sessions/{session_id}/end")
async def end_from_page(session_id: str, request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    """The console's fallback without JavaScript (the JS sends ``hangup`` over its WebSocket)."""
    await db.run(lambda s: load_for(s, session_id, user, write=True))
    hub: SignalingHub = request.app.state.hub
    await hub.end(
        session_id, by="technician", reason="hangup", actor=user.email, address=client_address(request)
    )
    return RedirectResponse(f"/sessions/{session_id}/console", status_code=303)


def _system_name(system: platforms.System) -> str:
    names = {"windows": _("Windows"), "macos": _("macOS"), "chromeos": _("ChromeOS")}
    return names.get(system, _("this system"))


@router.get("/join")
async def join_page(request: Request, code: Annotated[str, Query(max_length=40)] = "") -> Response:
    """Public page for the user: how to run the agent with the code the technician gave."""
    digits = codes.normalise(code)
    settings = _settings(request)
    public_url = settings.public_url
    lang = get_language()
    listing = await links.builds(settings)
    system = platforms.detect(request.headers.get("user-agent"))
    context = {
        "code": digits or "",
        "code_display": codes.display(digits),
        "code_invalid": bool(code) and digits is None,
        "server_url": public_url,
        # Without a code the command shows a word to replace, in the reader's language ("CÓDIGO").
        "agent_command": agent_command(public_url, digits or _("CODE")),
        # The rule for the forms and the share's script (data- attributes: the JS restates none
        # of it); the format sentence is made when the page renders, in the page's language.
        "codes": codes,
        "code_format_text": partial(codes.format_text, _),
        # The app: the configured file itself when the page has a code and a Linux build is in
        # place (downloads/links.py), the installed app's veo: link, the terminal as a fallback.
        "agent_download_url": links.join_download(settings, listing, digits or "", lang),
        "agent_download_direct": bool(digits) and links.LINUX in listing.builds,
        "download_page_url": links.page_url(digits or "", lang),
        "linux_visitor": system in ("linux-x86_64", "unknown"),
        "system_name": _system_name(system),
        "open_veo_url": agent_config.join_link(public_url, digits or ""),
    }
    return await render(request, "join.html", context)
