"""The app's :class:`Database` as a FastAPI dependency (HTTP and WebSocket alike)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from veo.server.db.engine import Database


def database(connection: HTTPConnection) -> Database:
    db: Database = connection.app.state.db
    return db


DatabaseDep = Annotated[Database, Depends(database)]
