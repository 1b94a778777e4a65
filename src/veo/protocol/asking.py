"""Asking for more permission mid-session: the technician asks, only the user's answer grants.

A view-only session need not be ended to get control. The request travels over signaling, so the
server sees both the question and the answer (it audits them, keeps the session's recorded grant,
refuses what the role's policy does not allow, and lets one question wait at a time):

1. console ``permission_request{permissions}`` -> server: refused with an ``error`` when beyond
   the role's policy, a browser share (it can only show the screen), already granted, a question
   already waiting, or asked again too soon after the user refused it;
2. server ``permission_ask{id, permissions, timeout_seconds}`` -> agent, which shows the user a
   prompt of its own (each permission a box the user may untick) and closes it unanswered after
   ``timeout_seconds``; server ``permission_status{state: pending}`` -> console;
3. agent ``permission_answer{id, outcome, granted}`` -> server: ``accepted`` with what the user
   kept ticked, ``refused``, or ``timeout``; the server records it and tells the console
   ``permission_status``.

The agent extends its own grant (``agent/policy.py``) only with what its user accepted out of
what it was asked, before it answers; its data-channel ``control{granted}`` stays the console's
truth. A server that lies can ask the user, never grant.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from veo.protocol.base import Message
from veo.protocol.permissions import Permission

#: How long the user's prompt stays open unanswered (the agent then answers ``timeout``).
ASK_TIMEOUT_SECONDS = 60
#: How much longer the server waits for an answer (network, or an agent too old to answer)
#: before a new question may replace the unanswered one.
ANSWER_GRACE_SECONDS = 15
#: After the user refused a permission, asking for it again is refused for this long.
REFUSAL_COOLDOWN_SECONDS = 30

AskId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Asked = Annotated[list[Permission], Field(min_length=1, max_length=len(Permission))]
Outcome = Literal["accepted", "refused", "timeout"]


class PermissionRequest(Message):
    """Console -> server: the technician asks the user for more (control, clipboard, files)."""

    type: Literal["permission_request"] = "permission_request"
    permissions: Asked


class PermissionAsk(Message):
    """Server -> agent: show the user this question; answer by ``id``."""

    type: Literal["permission_ask"] = "permission_ask"
    id: AskId
    permissions: Asked
    timeout_seconds: Annotated[int, Field(ge=5, le=600)] = ASK_TIMEOUT_SECONDS


class PermissionAnswer(Message):
    """Agent -> server: what the user did with the question ``id``.

    ``granted`` is what the user kept ticked (only with ``accepted``, never empty then).
    """

    type: Literal["permission_answer"] = "permission_answer"
    id: AskId
    outcome: Outcome
    granted: Annotated[list[Permission], Field(max_length=len(Permission))] = []

    @model_validator(mode="after")
    def _granted_only_when_accepted(self) -> Self:
        if (self.outcome == "accepted") != bool(self.granted):
            raise ValueError("granted lists what was accepted, and only then")
        return self


class PermissionStatus(Message):
    """Server -> console: a question is waiting, or how the user answered it.

    ``permissions``: what was asked; ``granted``: what the user accepted of it. ``timeout_seconds``
    (while ``pending``): when the console may stop waiting for an answer.
    """

    type: Literal["permission_status"] = "permission_status"
    state: Literal["pending", "accepted", "refused", "timeout"]
    permissions: Asked
    granted: Annotated[list[Permission], Field(max_length=len(Permission))] = []
    timeout_seconds: Annotated[int, Field(ge=0, le=900)] = ASK_TIMEOUT_SECONDS + ANSWER_GRACE_SECONDS


__all__ = [
    "ANSWER_GRACE_SECONDS",
    "ASK_TIMEOUT_SECONDS",
    "REFUSAL_COOLDOWN_SECONDS",
    "Outcome",
    "PermissionAnswer",
    "PermissionAsk",
    "PermissionRequest",
    "PermissionStatus",
]
