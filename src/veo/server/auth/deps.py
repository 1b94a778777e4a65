"""Who is asking: FastAPI dependencies for pages, the API and WebSockets.

(Interface fixed by the project skeleton; implemented by the auth module.) Routes read as
sentences: ``def page(user: CurrentUser, db: DbSession)``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, WebSocket

from veo.server.auth.models import User


async def current_user(request: Request) -> User:
    """The signed-in technician from the session cookie or a bearer token; 401 otherwise."""
    raise NotImplementedError


async def current_user_ws(websocket: WebSocket) -> User | None:
    """The technician behind a WebSocket handshake (session cookie), or None."""
    raise NotImplementedError


async def verify_csrf(request: Request) -> None:
    """Reject a state-changing form post without the session's CSRF token (403)."""
    raise NotImplementedError


CurrentUser = Annotated[User, Depends(current_user)]
