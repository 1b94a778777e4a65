"""Starting a session from a ticket, shared by the page form and the REST API.

A request beyond the technician's role policy stores no session, yet must leave a trace: the
refusal is audited in a transaction of its own after the creation rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable

from veo.server.auth.models import User
from veo.server.db.engine import Database
from veo.server.sessions import service, txn
from veo.server.sessions.models import RemoteSession


async def start_session(
    db: Database,
    *,
    ticket_id: int,
    technician: User,
    permissions: Iterable[str] | None,
    ttl_seconds: int,
    address: str,
) -> RemoteSession:
    """The new waiting session; raises :class:`service.SessionError` (``beyond_policy`` audited)."""
    chosen = list(permissions) if permissions is not None else None
    try:
        return await txn.run(
            db,
            lambda s: service.create_session(
                s,
                ticket_id=ticket_id,
                technician=technician,
                permissions=chosen,
                ttl_seconds=ttl_seconds,
                address=address,
            ),
        )
    except service.SessionError as exc:
        if exc.code == "beyond_policy":
            await txn.run(
                db,
                lambda s: service.record_beyond_policy(
                    s, ticket_id=ticket_id, technician=technician, permissions=chosen, address=address
                ),
            )
        raise
