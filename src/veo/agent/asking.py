"""More permission mid-session, on the agent: the user's answer is the only thing that grants.

The server relays the technician's question as ``permission_ask`` (``veo.protocol.asking``).
This feature owns it on the session's event loop: it opens the user's prompt (``PermissionAsked``
to the Tk thread, ``agent/ui/asking.py``), closes it unanswered after the question's timeout,
and on the user's answer extends the session's own grant (``AgentSession.extend_grant`` ->
``Policy.extend``: only what was asked AND ticked, never before consent) before it tells the
server ``permission_answer``. A lying or flooding server gets no more than a question: one at a
time (another is ignored while the prompt is open), and a permission the user just refused is
refused again without asking for ``REFUSAL_COOLDOWN_SECONDS``. While the prompt is open the
technician's input waits (``Policy.question_open``, dropped as ``question_open``) and what they
held down is let go: with control already granted, their own click or Enter could otherwise
answer the question for the user.

Log lines (stable, the end-to-end tests read them): ``permission asked id=<id> permissions=<p,..>``,
``permission answered id=<id> outcome=<accepted|refused|timeout> granted=<p,..>``,
``permission ask ignored: <why>``, and the session's ``grant extended added=<p,..>``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from veo.agent.events import GrantChanged, PermissionAskClosed, PermissionAsked, UiEvent
from veo.agent.policy import Policy
from veo.protocol.asking import REFUSAL_COOLDOWN_SECONDS, Outcome, PermissionAnswer, PermissionAsk
from veo.protocol.permissions import Permission, ordered
from veo.tasks import spawn

log = logging.getLogger(__name__)

Timer = Callable[[float, Callable[[], None]], Any]


class AskingPeer(Protocol):
    """What the feature needs from the session (``AgentSession`` is one)."""

    policy: Policy

    def on_signal(self, message_type: str, handler: Callable[[Any], None]) -> None: ...

    def on_end(self, hook: Callable[[], None]) -> None: ...

    async def send_signal(self, message: PermissionAnswer) -> None: ...

    def extend_grant(
        self, asked: Iterable[Permission], ticked: Iterable[Permission]
    ) -> frozenset[Permission]: ...

    def release_input(self) -> None: ...


@dataclass(frozen=True)
class _Pending:
    id: str
    permissions: tuple[Permission, ...]
    timer: Any


def _names(permissions: Iterable[Permission]) -> str:
    return ",".join(p.value for p in ordered(permissions))


class AgentAsking:
    def __init__(
        self,
        session: AskingPeer,
        post: Callable[[UiEvent], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        call_later: Timer | None = None,
    ) -> None:
        self._session = session
        self._post = post
        self._clock = clock
        self._call_later = call_later
        self._pending: _Pending | None = None
        #: when the user last refused each permission (the cooldown against a flood of questions)
        self._refused_at: dict[Permission, float] = {}
        self._closed = False
        session.on_signal("permission_ask", self._on_ask)
        session.on_end(self.close)

    @property
    def pending(self) -> tuple[Permission, ...] | None:
        return self._pending.permissions if self._pending else None

    def _on_ask(self, ask: PermissionAsk) -> None:
        """On the event loop: a question from the server (already parsed)."""
        policy = self._session.policy
        if self._closed or not policy.consented:
            self._ignore(ask, "the user has not allowed the session", answer=True)
            return
        if self._pending is not None:
            # Never a second prompt over the first; the server allows one question at a time.
            self._ignore(ask, f"question {self._pending.id} is still waiting for the user", answer=False)
            return
        asked = tuple(p for p in ordered(ask.permissions) if p not in policy.granted)
        if not asked:
            self._ignore(ask, "everything asked is already allowed", answer=True)
            return
        now = self._clock()
        recent = [p for p in asked if now - self._refused_at.get(p, -1e18) < REFUSAL_COOLDOWN_SECONDS]
        if recent:
            self._ignore(ask, f"the user refused {_names(recent)} moments ago", answer=True)
            return
        later = self._call_later or asyncio.get_running_loop().call_later
        timer = later(ask.timeout_seconds, lambda: self._timed_out(ask.id))
        self._pending = _Pending(ask.id, asked, timer)
        policy.question_open = True  # the technician's input waits (``Policy.judge``) ...
        self._session.release_input()  # ... and lets go of any key or button it held down
        log.info("permission asked id=%s permissions=%s", ask.id, _names(asked))
        self._post(PermissionAsked(ask.id, asked, ask.timeout_seconds))

    def _ignore(self, ask: PermissionAsk, why: str, *, answer: bool) -> None:
        log.warning("permission ask ignored: %s", why)
        if answer:  # the question is over at once: the server must not keep it waiting
            self._send(ask.id, "refused", ())

    def answer(self, ask_id: str, ticked: Iterable[Permission]) -> None:
        """From the prompt (through ``LoopThread.call``): Allow with these ticked, or ``()`` to refuse."""
        pending = self._pending
        if pending is None or pending.id != ask_id:
            log.info("permission answer for %s ignored: no such question is open", ask_id)
            return
        self._finish(pending)
        chosen = set(ticked)
        accepted = tuple(p for p in pending.permissions if p in chosen)
        refused = [p for p in pending.permissions if p not in chosen]
        now = self._clock()
        for permission in refused:
            self._refused_at[permission] = now
        added = self._session.extend_grant(pending.permissions, accepted) if accepted else frozenset()
        self._send(pending.id, "accepted" if accepted else "refused", accepted)
        if added:
            granted = tuple(self._session.policy.granted_list())
            self._post(GrantChanged(granted, tuple(ordered(added))))

    def _timed_out(self, ask_id: str) -> None:
        pending = self._pending
        if pending is None or pending.id != ask_id:
            return
        self._finish(pending)
        self._send(ask_id, "timeout", ())
        self._post(PermissionAskClosed(ask_id))

    def _finish(self, pending: _Pending) -> None:
        self._pending = None
        self._session.policy.question_open = False
        cancel = getattr(pending.timer, "cancel", None)
        if cancel is not None:
            cancel()

    def _send(self, ask_id: str, outcome: Outcome, granted: Iterable[Permission]) -> None:
        chosen = ordered(granted)
        log.info("permission answered id=%s outcome=%s granted=%s", ask_id, outcome, _names(chosen))
        message = PermissionAnswer(id=ask_id, outcome=outcome, granted=chosen)
        spawn(self._session.send_signal(message), name="veo-agent-permission-answer")

    def close(self) -> None:
        """The session ended: the open question (if any) goes unanswered, its prompt closes."""
        self._closed = True
        pending = self._pending
        if pending is not None:
            self._finish(pending)
            self._post(PermissionAskClosed(pending.id))
