"""The hub's steps for more permission mid-session (``veo.protocol.asking``).

``permission_request`` (console) is checked here in the order a technician can act on: a question
already waiting, a permission the user just refused (a short cooldown, so a refusal cannot be
answered with a flood), then in the database (``grants.record_request``: browser share, role's
policy, already granted). Each refusal is an ``error`` with a sentence for the console. Accepted,
it is relayed to the agent as ``permission_ask`` and the console hears ``permission_status``
(pending). ``permission_answer`` (agent) must answer the waiting question; it is recorded
(``grants.record_answer``), the console hears how the user answered, and ``session_state``
carries the recorded grant. An answer that never comes stops blocking new questions after the
prompt's timeout plus a grace period.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from veo.protocol.asking import (
    ANSWER_GRACE_SECONDS,
    ASK_TIMEOUT_SECONDS,
    REFUSAL_COOLDOWN_SECONDS,
    PermissionAnswer,
    PermissionAsk,
    PermissionRequest,
    PermissionStatus,
)
from veo.protocol.permissions import Permission, ordered
from veo.protocol.signaling import Error
from veo.server.lang import ngettext
from veo.server.sessions import grants, txn
from veo.server.sessions.messages import permission_names
from veo.server.sessions.runtime import PendingAsk
from veo.server.sessions.wire import error

if TYPE_CHECKING:
    from veo.server.sessions.steps import Step

log = logging.getLogger(__name__)

#: How long an unanswered question blocks the next one.
PENDING_SECONDS = ASK_TIMEOUT_SECONDS + ANSWER_GRACE_SECONDS


def cooldown_left(refused_at: dict[Permission, float], asked: list[Permission], now: float) -> int:
    """Whole seconds until none of ``asked`` was refused within the cooldown (0: may ask)."""
    left = max(
        (REFUSAL_COOLDOWN_SECONDS - (now - refused_at[p]) for p in asked if p in refused_at), default=0.0
    )
    return max(0, int(left + 0.999))


def _cooldown_error(seconds: int, asked: list[Permission]) -> Error:
    text = ngettext(
        "The user just refused this ({permissions}). You can ask again in {n} second.",
        "The user just refused this ({permissions}). You can ask again in {n} seconds.",
        seconds,
    ).format(permissions=permission_names(asked), n=seconds)
    return Error(code="permission_cooldown", message=text[:500])


async def _expire_unanswered(s: Step, pending: PendingAsk) -> None:
    """The agent never answered (too old to know the question, or the answer was lost)."""
    s.rt.permission_ask = None
    log.info("session %s: permission question %s unanswered, expired", s.session_id, pending.id)
    await txn.run(
        s.hub.db,
        lambda db: grants.record_answer(
            db, s.session_id, pending.permissions, outcome="unanswered", accepted=()
        ),
    )


async def permission_request(s: Step, message: PermissionRequest) -> None:
    """Two consoles (maybe on two nodes) asking at once are serialized by the session's lock in the
    runtime store, held by the hub around every step: the "one waiting question" check and its
    setting are apart by database work."""
    asked = ordered(message.permissions)
    now = s.hub.clock()
    pending = s.rt.permission_ask
    if pending is not None and now - pending.asked_at < PENDING_SECONDS:
        await s.to_console(error("permission_pending").dumps())
        return
    if pending is not None:
        await _expire_unanswered(s, pending)
    wait = cooldown_left(s.rt.refused_at, asked, now)
    if wait:
        recent = [p for p in asked if p in s.rt.refused_at]
        await s.to_console(_cooldown_error(wait, recent).dumps())
        return
    outcome = await txn.run(
        s.hub.db,
        lambda db: grants.record_request(db, s.session_id, asked, actor=s.actor, address=s.address),
    )
    if isinstance(outcome, tuple):
        code, which = outcome
        log.info("session %s: permission request refused: %s %s", s.session_id, code, which)
        await s.to_console(error(code, permission_names(which)).dumps())
        return
    ask = PermissionAsk(id=secrets.token_hex(16), permissions=outcome, timeout_seconds=ASK_TIMEOUT_SECONDS)
    s.rt.permission_ask = PendingAsk(id=ask.id, permissions=tuple(outcome), asked_at=now)
    await s.to_agent(ask.dumps())
    await s.to_console(
        PermissionStatus(state="pending", permissions=outcome, timeout_seconds=PENDING_SECONDS).dumps()
    )
    await s.publish_state()


async def permission_answer(s: Step, message: PermissionAnswer) -> None:
    pending = s.rt.permission_ask
    if pending is None or pending.id != message.id:
        await s.to_agent(error("permission_not_asked").dumps())
        return
    s.rt.permission_ask = None
    accepted = [p for p in ordered(message.granted) if p in pending.permissions]
    if len(accepted) != len(message.granted):
        log.warning("session %s: the agent's answer named permissions not asked; ignored", s.session_id)
    now = s.hub.clock()
    if message.outcome != "timeout":
        for permission in pending.permissions:
            if permission not in accepted:
                s.rt.refused_at[permission] = now
    outcome = message.outcome
    session = await txn.run(
        s.hub.db,
        lambda db: grants.record_answer(
            db, s.session_id, pending.permissions, outcome=outcome, accepted=accepted
        ),
    )
    lost = [p for p in accepted if p.value not in session.granted_permissions]
    if lost and session.status == "active":
        # the agent extended its grant with what the role lost meanwhile: it cannot stay
        await s.end_beyond_policy(lost)
        return
    state = "accepted" if accepted else ("timeout" if outcome == "timeout" else "refused")
    await s.to_console(
        PermissionStatus(state=state, permissions=list(pending.permissions), granted=accepted).dumps()
    )
    await s.publish_state()


def pending_for_state(pending: PendingAsk | None, now: float) -> list[Permission]:
    """What ``session_state`` says is waiting for the user (nothing once it stopped blocking)."""
    if pending is None or now - pending.asked_at >= PENDING_SECONDS:
        return []
    return list(pending.permissions)
