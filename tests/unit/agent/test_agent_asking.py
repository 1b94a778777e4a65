"""The agent's side of a mid-session question: only the user's answer grants, floods get nothing.

A fake session stands in for ``AgentSession`` (its real ``Policy`` included), timers are kept in
a list and fired by hand, and the clock is a number: no waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from veo.agent.asking import AgentAsking
from veo.agent.events import GrantChanged, PermissionAskClosed, PermissionAsked, UiEvent
from veo.agent.policy import Policy
from veo.protocol.asking import REFUSAL_COOLDOWN_SECONDS, PermissionAnswer, PermissionAsk
from veo.protocol.datachannel import Key, PointerButton, ReleaseAll
from veo.protocol.permissions import Permission
from veo.protocol.signaling import TechnicianConfirmed

VIEW, CONTROL, CLIPBOARD, FILES = Permission.VIEW, Permission.CONTROL, Permission.CLIPBOARD, Permission.FILES


@dataclass
class Timer:
    delay: float
    fire: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeSession:
    policy: Policy = field(default_factory=Policy)
    handlers: dict[str, Callable[[Any], None]] = field(default_factory=dict)
    end_hooks: list[Callable[[], None]] = field(default_factory=list)
    sent: list[PermissionAnswer] = field(default_factory=list)
    releases: int = 0

    def on_signal(self, message_type: str, handler: Callable[[Any], None]) -> None:
        self.handlers[message_type] = handler

    def on_end(self, hook: Callable[[], None]) -> None:
        self.end_hooks.append(hook)

    async def send_signal(self, message: PermissionAnswer) -> None:
        self.sent.append(message)

    def extend_grant(
        self, asked: Iterable[Permission], ticked: Iterable[Permission]
    ) -> frozenset[Permission]:
        return self.policy.extend(asked, ticked)

    def release_input(self) -> None:
        self.releases += 1


@dataclass
class Rig:
    session: FakeSession
    feature: AgentAsking
    posted: list[UiEvent]
    timers: list[Timer]
    clock: list[float]

    def ask(self, *permissions: Permission, ask_id: str = "a" * 32) -> None:
        self.session.handlers["permission_ask"](PermissionAsk(id=ask_id, permissions=list(permissions)))

    async def settle(self) -> None:
        await asyncio.sleep(0)  # the answers leave through spawn()


def rig(granted: Iterable[Permission] = (VIEW,)) -> Rig:
    session = FakeSession()
    session.policy.grant(list(Permission), granted)
    posted: list[UiEvent] = []
    timers: list[Timer] = []
    clock = [100.0]

    def later(delay: float, fire: Callable[[], None]) -> Timer:
        timers.append(Timer(delay, fire))
        return timers[-1]

    feature = AgentAsking(session, posted.append, clock=lambda: clock[0], call_later=later)
    return Rig(session, feature, posted, timers, clock)


async def test_accepted_with_one_box_unticked_grants_only_what_stayed_ticked() -> None:
    r = rig()
    r.ask(CONTROL, FILES)
    assert r.posted == [PermissionAsked("a" * 32, (CONTROL, FILES), 60)]
    assert r.session.policy.granted == {VIEW}, "the question alone grants nothing"

    r.feature.answer("a" * 32, [CONTROL])
    await r.settle()
    assert r.session.policy.granted == {VIEW, CONTROL}
    assert r.session.sent == [PermissionAnswer(id="a" * 32, outcome="accepted", granted=[CONTROL])]
    assert r.posted[-1] == GrantChanged((VIEW, CONTROL), (CONTROL,))
    assert r.timers[0].cancelled


async def test_refused_grants_nothing_and_the_same_question_is_refused_without_a_prompt() -> None:
    r = rig()
    r.ask(CONTROL)
    r.feature.answer("a" * 32, [])
    await r.settle()
    assert r.session.policy.granted == {VIEW}
    assert r.session.sent[-1].outcome == "refused"

    r.clock[0] += REFUSAL_COOLDOWN_SECONDS - 1
    r.ask(CONTROL, ask_id="b" * 32)  # a server that floods the user
    await r.settle()
    assert r.session.sent[-1] == PermissionAnswer(id="b" * 32, outcome="refused")
    assert [e for e in r.posted if isinstance(e, PermissionAsked)] == [
        PermissionAsked("a" * 32, (CONTROL,), 60)
    ]

    r.clock[0] += 1
    r.ask(CONTROL, ask_id="c" * 32)
    assert r.feature.pending == (CONTROL,)


async def test_one_prompt_at_a_time_and_answers_to_other_questions_do_nothing() -> None:
    r = rig()
    r.ask(CONTROL)
    r.ask(FILES, ask_id="b" * 32)
    assert r.feature.pending == (CONTROL,) and len(r.posted) == 1
    r.feature.answer("b" * 32, [FILES])  # not the open question
    assert r.session.policy.granted == {VIEW}
    r.feature.answer("a" * 32, [CONTROL, FILES])  # FILES was never asked in this question
    await r.settle()
    assert r.session.policy.granted == {VIEW, CONTROL}


async def test_an_unanswered_prompt_closes_and_answers_timeout() -> None:
    r = rig()
    r.ask(CLIPBOARD)
    assert r.timers[0].delay == 60
    r.timers[0].fire()
    await r.settle()
    assert r.posted[-1] == PermissionAskClosed("a" * 32)
    assert r.session.sent == [PermissionAnswer(id="a" * 32, outcome="timeout")]
    r.feature.answer("a" * 32, [CLIPBOARD])  # the user clicks after it closed
    assert r.session.policy.granted == {VIEW}


async def test_nothing_is_asked_before_consent_or_after_the_end() -> None:
    r = rig()
    r.session.policy.forget()
    r.ask(CONTROL)
    await r.settle()
    assert r.posted == [] and r.session.sent[-1].outcome == "refused"

    r = rig()
    r.ask(CONTROL)
    for hook in r.session.end_hooks:
        hook()
    assert r.posted[-1] == PermissionAskClosed("a" * 32) and r.timers[0].cancelled
    r.feature.answer("a" * 32, [CONTROL])
    assert Permission.CONTROL not in r.session.policy.granted


def test_policy_extend_keeps_every_control_check() -> None:
    policy = Policy()
    assert policy.extend([CONTROL], [CONTROL]) == frozenset(), "never before consent"
    policy.grant([VIEW, CONTROL], [VIEW])
    policy.technician(TechnicianConfirmed(sas_confirmed=True, identity_required=True))
    assert policy.refusal_for("control") == "control_not_granted"
    assert policy.extend([CONTROL, FILES], [CONTROL]) == {CONTROL}
    assert policy.granted == {VIEW, CONTROL}
    assert policy.refusal_for("control") == "identity_not_confirmed", "the role wants the identity first"
    assert policy.waiting_for() == ["identity"]
    policy.technician(
        TechnicianConfirmed(sas_confirmed=True, identity_required=True, identity_confirmed=True)
    )
    assert policy.control_active


def _click() -> str:
    return PointerButton(x=10, y=10, button="left", down=True).dumps()


async def test_the_technicians_input_waits_while_the_user_answers() -> None:
    """With control granted, the technician's own click or Enter could press Allow on the prompt:
    while a question is open the agent acts on none of the technician's input (releasing held keys
    and buttons excepted), so only the person at the computer answers it."""
    r = rig(granted=(VIEW, CONTROL))
    policy = r.session.policy
    policy.technician(TechnicianConfirmed(sas_confirmed=True))
    policy.sas_confirmed = True
    assert policy.judge(_click()).allowed

    r.ask(FILES)
    assert r.session.releases == 1, "what the technician held down is let go"
    verdict = policy.judge(_click())
    assert not verdict.allowed and verdict.reason == "question_open"
    assert policy.judge(Key(key="Enter", code="Enter", down=True).dumps()).reason == "question_open"
    assert policy.judge(ReleaseAll().dumps()).allowed, "held keys may still be let go"

    r.feature.answer("a" * 32, [])
    await r.settle()
    assert policy.judge(_click()).allowed

    r.ask(CLIPBOARD, ask_id="b" * 32)
    assert policy.judge(_click()).reason == "question_open"
    r.timers[-1].fire()
    assert policy.judge(_click()).allowed, "a question that closed unanswered lets input through"
