"""The signaling WebSockets: ``/ws/agent`` (anonymous, first message ``join``) and ``/ws/console``.

Authorization happens here, before the hub sees the connection: the console must carry the
session cookie of the session's technician or of an admin (close 4401 / 4403 otherwise). The hub
checks it again before each console message (``revocation.standing``).

Before anything else, both refuse a handshake that a browser made for another site's page (close
1008, policy violation, before the socket is even accepted): the WebSocket handshake carries the
technician's cookie whatever page opens it, so without this check any site the technician visits
could drive their console. ``/ws/agent`` holds no cookie, but the same check keeps other sites
from turning their visitors' browsers into a crowd of code guessers, each with its own address.
Accepted: no ``Origin`` at all (the native agent, scripts: not a browser acting for someone else),
and ``VEO_PUBLIC_URL``'s origin (the console, the browser share page); see
:func:`veo.server.origins.same_origin`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, WebSocket, WebSocketException

from veo.server.auth.deps import Identity, current_user_ws
from veo.server.auth.models import User
from veo.server.db.engine import Database
from veo.server.origins import same_origin
from veo.server.sessions.access import may_operate
from veo.server.sessions.hub import SignalingHub
from veo.server.sessions.service import get_session

router = APIRouter()

CLOSE_POLICY = 1008
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


async def from_own_pages(websocket: WebSocket) -> None:
    """First dependency of both sockets: another site's page is refused before anything runs."""
    if not same_origin(websocket):
        raise WebSocketException(CLOSE_POLICY, "origin not allowed")


@router.websocket("/ws/agent", dependencies=[Depends(from_own_pages)])
async def agent_socket(websocket: WebSocket) -> None:
    hub: SignalingHub = websocket.app.state.hub
    await hub.run_agent(websocket)


@router.websocket("/ws/console", dependencies=[Depends(from_own_pages)])
async def console_socket(
    websocket: WebSocket,
    user: Annotated[User | None, Depends(current_user_ws)],
    session: str = "",
) -> None:
    hub: SignalingHub = websocket.app.state.hub
    db: Database = websocket.app.state.db
    await websocket.accept()
    if user is None:
        await websocket.close(CLOSE_UNAUTHENTICATED)
        return
    found = await db.run(lambda s: get_session(s, session[:36])) if session else None
    if found is None:
        await websocket.close(CLOSE_NOT_FOUND)
        return
    if not may_operate(user, found):
        await websocket.close(CLOSE_FORBIDDEN)
        return
    # the sign-in the socket rides on: once it is gone (signed out, expired) the console stops
    identity: Identity | None = getattr(websocket.state, "veo_identity", None)
    web_session = identity.web_session if identity is not None else None
    await hub.run_console(websocket, found.id, user, web_session.id if web_session is not None else None)
