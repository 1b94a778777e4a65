"""The technician's "E-mail the join link": the requester gets the code and link of a session.

Allowed to whoever may operate the session, only while its code can still be redeemed (a used
or expired code is useless and would only confuse), and never for a managed device's session: its
code is the device's alone (the device's service joins with it; nobody else can). Sending the
link is audited; together with the session's audit trail it lets the console record "join link
sent to the requester's e-mail" as how the user's identity was confirmed.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.errors import ApiError
from veo.server.lang import _
from veo.server.notify import events
from veo.server.notify.models import OutboxMessage
from veo.server.sessions.access import load_for


def email_join_link(db: Session, session_id: str, user: User, *, address: str = "") -> OutboxMessage:
    session = load_for(db, session_id, user, write=True)
    if session.device_id is not None:
        message = _("A session on a managed device has no join link to send: the device joins by itself.")
        raise ApiError(409, "device_session", message)
    if session.status != "waiting" or not session.code:
        message = _("The join link can only be sent while the code is valid.")
        raise ApiError(409, "session_not_waiting", message)
    queued = events.session_link(db, session)
    record(
        db,
        "session.link_emailed",
        actor=user.email,
        ticket_id=session.ticket_id,
        session_id=session.id,
        address=address,
        details={"to": session.ticket.requester_email},
    )
    return queued
