"""The technician's role policy as it is NOW, applied to a session issued under an older one.

A code is issued under the policy of its moment (``service.within_policy``). An admin who cuts a
role down (say to view only) means it for codes already handed out too, so the policy is read
again when the code is redeemed (the request shrinks to it: the user is never even asked for
what the role lost), when the user's consent arrives, and when the user answers a question for
more permission (what the role lost is never recorded as granted). The agent keeps its own copy
of the grant and the server cannot take part of it back, so a live session whose user already
granted something the role lost is ended instead (``steps.py``, ``asking.py``, ``hub.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from veo.protocol.permissions import Permission, beyond, effective_permissions, ordered
from veo.server.audit.service import record
from veo.server.policies.service import policy_for_role
from veo.server.sessions.models import RemoteSession

#: The end reason of a session whose grant the technician's role no longer allows.
POLICY_CHANGED = "policy_changed"


def allowed_now(db: Session, session: RemoteSession) -> frozenset[Permission]:
    """What the session's technician's role allows at this moment (nothing without a technician)."""
    technician = session.technician
    if technician is None:
        return frozenset()
    return policy_for_role(db, technician.role).max_permissions


def beyond_now(db: Session, session: RemoteSession, held: Iterable[Permission | str]) -> list[Permission]:
    """What of ``held`` the technician's role no longer allows (empty: all of it still fits)."""
    return ordered(beyond(held, allowed_now(db, session)))


def narrow_request(db: Session, session: RemoteSession) -> bool:
    """At redemption: cut the session's request to the role's current policy (audited when cut).

    False when nothing viewable is left: the session cannot start under the current policy.
    """
    allowed = allowed_now(db, session)
    before = list(session.requested_permissions)
    after = [p.value for p in ordered(effective_permissions(before, allowed))]
    if after == before:
        return True
    session.requested_permissions = after
    record(
        db,
        "session.request_narrowed",
        actor="system",
        ticket_id=session.ticket_id,
        session_id=session.id,
        details={
            "before": before,
            "after": after,
            "role": session.technician.role if session.technician else "",
            "allowed": [p.value for p in ordered(allowed)],
        },
    )
    return bool(after)
