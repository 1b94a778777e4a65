"""The agent's resume pieces on their own: backoff, heartbeat clock, grace, resume key, the
freeze in the policy, and the signaling channel that reconnects with ``rejoin`` first."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from veo.agent.policy import Policy
from veo.agent.reconnect import Backoff, ReconnectingChannel
from veo.agent.resuming import Exchange, Grace, HeartbeatClock, ResumeSecret
from veo.agent.signaling import ChannelClosed, ConnectError, SignalingChannel
from veo.protocol import resume
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Rejoin, TechnicianConfirmed
from veo.tasks import spawn

FP_A = ":".join(["AA"] * 32)
FP_B = ":".join(["BB"] * 32)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_is_half_a_second_one_second_then_every_second() -> None:
    backoff = Backoff()
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 1.0, 1.0, 1.0]
    backoff.reset()
    assert backoff.next() == 0.5
    custom = Backoff((0.1,), 5.0)
    assert [custom.next() for _ in range(3)] == [0.1, 5.0, 5.0]


def test_heartbeat_clock_arms_on_the_first_heartbeat_and_loses_after_four_seconds() -> None:
    clock = FakeClock()
    beat = HeartbeatClock(clock)
    beat.heard()  # the channel opened; an older console never beats
    clock.now += 60
    assert not beat.lost()  # never armed: silence means nothing
    beat.heard(heartbeat=True)
    clock.now += resume.LOST_AFTER_SECONDS - 0.1
    assert not beat.lost()
    beat.heard()  # any message is life
    clock.now += resume.LOST_AFTER_SECONDS - 0.1
    assert not beat.lost()
    clock.now += 0.2
    assert beat.lost() and beat.silent_for() == pytest.approx(resume.LOST_AFTER_SECONDS + 0.1)
    assert resume.LOST_AFTER_SECONDS + resume.HEARTBEAT_SECONDS <= 5  # noticed within 5 s


def test_grace_keeps_the_first_deadline() -> None:
    clock = FakeClock()
    grace = Grace(120)
    assert not grace.running and grace.left(clock) == 0
    grace.start(clock)
    clock.now += 30
    grace.start(clock)  # a second loss before the first healed
    assert grace.left(clock) == pytest.approx(90)
    assert grace.ends_at is not None
    grace.stop()
    assert not grace.running and grace.ends_at is None


def test_resume_secret_proves_as_the_protocol_checks_and_hides_its_key() -> None:
    secret = ResumeSecret()
    key = bytes.fromhex(secret.message().key)
    exchange = Exchange("sess", FP_A, FP_B, "11" * 32, "22" * 32)
    ours = secret.agent_proof(exchange)
    assert resume.check(key, "agent", ours, "sess", FP_A, FP_B, "11" * 32, "22" * 32)
    theirs = resume.proof(key, "console", "sess", FP_A, FP_B, "11" * 32, "22" * 32)
    assert secret.console_proved(theirs, exchange)
    assert not secret.console_proved(ours, exchange)  # the roles differ
    swapped = Exchange("sess", FP_B, FP_A, "11" * 32, "22" * 32)
    assert not secret.console_proved(theirs, swapped)
    assert key.hex() not in repr(secret) and secret.message().key == key.hex()
    assert ResumeSecret().message().key != secret.message().key  # one per session


ALL = [Permission.VIEW, Permission.CONTROL, Permission.FILES]


def test_policy_freezes_everything_but_heartbeats_while_reconnecting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = Policy()
    policy.grant(ALL, ALL)
    policy.technician(TechnicianConfirmed(sas_confirmed=True))
    assert policy.control_active
    policy.reconnecting = True
    caplog.set_level(logging.WARNING)
    verdict = policy.judge(json.dumps({"v": 1, "type": "key", "key": "a", "code": "KeyA", "down": True}))
    assert verdict.reason == "reconnecting" and not policy.control_active
    assert "dropped type=key reason=reconnecting" in caplog.text
    assert policy.refusal_for("files") == "reconnecting" and not policy.allows("consent")
    assert policy.judge(json.dumps({"v": 1, "type": "heartbeat"})).allowed
    policy.reconnecting = False
    assert policy.control_active and policy.granted_list() == ALL
    policy.forget()
    assert not policy.reconnecting


class FakeChannel:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[str] = []
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = False

    async def send(self, message: str) -> None:
        if self.closed:
            raise ChannelClosed
        self.sent.append(message)

    async def recv(self) -> str:
        item = await self.inbox.get()
        if item is None:
            self.closed = True
            raise ChannelClosed
        return item

    async def close(self) -> None:
        self.closed = True


class Listener:
    def __init__(self, rejoin: Rejoin | None, seconds: float = 60) -> None:
        self.rejoin = rejoin
        self.seconds = seconds
        self.states: list[str] = []

    def rejoin_message(self) -> Rejoin | None:
        return self.rejoin

    def reconnect_seconds_left(self) -> float:
        return self.seconds

    def signaling_down(self) -> None:
        self.states.append("down")

    def signaling_up(self) -> None:
        self.states.append("up")


REJOIN = Rejoin(session_id="sess", token="tok", media="up")


async def test_a_closed_channel_is_replaced_and_rejoin_goes_first() -> None:
    first = FakeChannel("first")
    made: list[FakeChannel] = []
    connected = asyncio.Event()
    attempts = 0

    async def connect() -> SignalingChannel:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectError("refused")
        channel = FakeChannel(f"n{attempts}")
        made.append(channel)
        connected.set()
        return channel

    channel = ReconnectingChannel(first, connect, Backoff((0.01,), 0.01))
    listener = Listener(REJOIN)
    channel.listen(listener)
    first.inbox.put_nowait(None)
    receiving = spawn(channel.recv())
    await asyncio.wait_for(connected.wait(), 5)
    await asyncio.sleep(0)  # the rejoin goes out right after the socket opened
    assert attempts == 2 and json.loads(made[0].sent[0])["type"] == "rejoin"
    made[0].inbox.put_nowait('{"type": "rejoined"}')
    assert await receiving == '{"type": "rejoined"}'
    assert listener.states == ["down", "up"] and channel.reconnects == 1 and channel.up
    await channel.send("after")
    assert made[0].sent == [REJOIN.dumps(), "after"]


async def test_nothing_to_rejoin_or_no_time_left_gives_up() -> None:
    async def connect() -> SignalingChannel:
        raise AssertionError("must not connect")

    for listener in (Listener(None), Listener(REJOIN, seconds=0.0)):
        first = FakeChannel("first")
        channel = ReconnectingChannel(first, connect, Backoff((0.01,), 0.01))
        channel.listen(listener)
        first.inbox.put_nowait(None)
        with pytest.raises(ChannelClosed):
            await channel.recv()
        with pytest.raises(ChannelClosed):
            await channel.send("x")  # down: fails at once


class DeadChannel(FakeChannel):
    """A socket whose path died: pings go unanswered, closing takes the whole close timeout."""

    async def probe(self, seconds: float) -> bool:
        return False

    async def close(self) -> None:
        await asyncio.sleep(0.2)
        self.closed = True
        self.inbox.put_nowait(None)


async def test_an_unanswered_probe_takes_the_socket_down_at_once() -> None:
    async def connect() -> SignalingChannel:
        raise ConnectError("still down")

    first = DeadChannel("first")
    channel = ReconnectingChannel(first, connect, Backoff((0.01,), 0.01))
    listener = Listener(REJOIN)
    channel.listen(listener)
    probing = spawn(channel.probe(0.1))
    await asyncio.sleep(0)
    assert not channel.up and listener.states == ["down"]
    with pytest.raises(ChannelClosed):  # a farewell is not queued into the dead socket
        await channel.send("hangup")
    await probing
    assert first.sent == []
