"""The signaling WebSockets: ``/ws/agent`` (anonymous, first message ``join``) and ``/ws/console``.

Authorization happens here, before the hub sees the connection: the console must carry the
session cookie of the session's technician or of an admin (close 4401 / 4403 otherwise).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, WebSocket

from veo.server.auth.deps import current_user_ws
from veo.server.auth.models import User
from veo.server.db.engine import Database
from veo.server.sessions.access import may_operate
from veo.server.sessions.hub import SignalingHub
from veo.server.sessions.service import get_session

router = APIRouter()

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


@router.websocket("/ws/agent")
async def agent_socket(websocket: WebSocket) -> None:
    hub: SignalingHub = websocket.app.state.hub
    await hub.run_agent(websocket)


@router.websocket("/ws/console")
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
    await hub.run_console(websocket, found.id, user)
