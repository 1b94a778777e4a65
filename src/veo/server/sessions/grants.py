"""More permission mid-session, the server's record: the question, the answer, the session's grant.

Called by the hub's steps (``asking.py``) inside one transaction each. The server checks what it
can (the session is live, the technician's role allows it, a browser share can only show) and
keeps the session's recorded grant in step with what the user answered; the agent enforces its
own copy (``agent/policy.py``). A question refused here is not a state change: nothing is written
except the audit event of a request beyond the role's policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.protocol.asking import Outcome
from veo.protocol.permissions import Permission, beyond, ordered
from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.policies.service import RolePolicy, policy_for_user
from veo.server.sessions import policy_now
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.service import AGENT_ACTOR, SessionError, get_session

#: Why the server refuses a question (``messages.py`` words each one).
Refusal = Literal["beyond_policy", "permission_browser_share", "permission_already_granted"]


def _policy(db: Session, actor: str) -> RolePolicy | None:
    user = db.scalar(select(User).where(User.email == actor))
    return policy_for_user(db, user) if user is not None else None


def _live(db: Session, session_id: str) -> RemoteSession:
    session = get_session(db, session_id)
    if session is None:
        raise SessionError("session_not_found")
    if session.status != "active":
        raise SessionError("out_of_order", session.status)
    return session


def record_request(
    db: Session, session_id: str, asked: Iterable[Permission], *, actor: str, address: str = ""
) -> tuple[Refusal, list[Permission]] | list[Permission]:
    """The technician asks for ``asked``: what goes to the user, or why not (and what offended).

    A request beyond the role's policy is audited (``session.beyond_policy``, as at creation); an
    accepted one is audited ``session.permission_requested`` and joins the session's request.
    """
    session = _live(db, session_id)
    wanted = ordered(asked)
    if session.mode == "browser":
        return "permission_browser_share", wanted
    policy = _policy(db, actor)
    allowed = policy.max_permissions if policy is not None else frozenset()
    extra = ordered(beyond(wanted, allowed))
    if extra:
        record(
            db,
            "session.beyond_policy",
            actor=actor,
            ticket_id=session.ticket_id,
            session_id=session.id,
            address=address,
            details={
                "requested": [p.value for p in wanted],
                "role": policy.role if policy is not None else "",
                "allowed": [p.value for p in ordered(allowed)],
                "mid_session": True,
            },
        )
        return "beyond_policy", extra
    new = [p for p in wanted if p.value not in session.granted_permissions]
    if not new:
        return "permission_already_granted", wanted
    session.requested_permissions = [
        p.value for p in ordered({*wanted, *map(Permission, session.requested_permissions)})
    ]
    record(
        db,
        "session.permission_requested",
        actor=actor,
        ticket_id=session.ticket_id,
        session_id=session.id,
        address=address,
        details={"asked": [p.value for p in new]},
    )
    return new


def record_answer(
    db: Session,
    session_id: str,
    asked: Iterable[Permission],
    *,
    outcome: Outcome | Literal["unanswered"],
    accepted: Iterable[Permission],
) -> RemoteSession:
    """The user's answer (or none in time): audited; what they accepted joins the recorded grant.

    ``accepted`` is cut to what was asked (an agent cannot make the server record more) and to
    what the technician's role allows NOW (an admin may have cut it while the user was asked;
    the cut part is named ``beyond_policy`` and ``asking.py`` ends the session, as the agent
    already holds it).
    """
    session = get_session(db, session_id)
    if session is None:
        raise SessionError("session_not_found")
    question = ordered(asked)
    answered = [p for p in ordered(accepted) if p in question]
    cut = policy_now.beyond_now(db, session, answered)
    kept = [p for p in answered if p not in cut]
    extra: dict[str, object] = {"beyond_policy": [p.value for p in cut]} if cut else {}
    if kept and session.status == "active":
        session.granted_permissions = [
            p.value for p in ordered({*kept, *map(Permission, session.granted_permissions)})
        ]
        record(
            db,
            "session.permission_granted",
            actor=AGENT_ACTOR,
            ticket_id=session.ticket_id,
            session_id=session.id,
            address=session.agent_address,
            details={
                "asked": [p.value for p in question],
                "granted": [p.value for p in kept],
                "refused": [p.value for p in question if p not in answered],
                **extra,
            },
        )
        return session
    record(
        db,
        "session.permission_refused",
        actor=AGENT_ACTOR if outcome != "unanswered" else "system",
        ticket_id=session.ticket_id,
        session_id=session.id,
        address=session.agent_address if outcome != "unanswered" else "",
        details={
            "asked": [p.value for p in question],
            "reason": "refused" if outcome == "accepted" else outcome,
            **extra,
        },
    )
    return session
