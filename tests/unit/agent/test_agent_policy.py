"""The agent's policy: every input message type against every grant / pause / SAS state."""

from __future__ import annotations

import json
import logging

import pytest

from veo.agent.input.base import Button, InputInjector
from veo.agent.policy import DISPATCH, DropNotices, Policy, apply
from veo.protocol.permissions import Permission
from veo.protocol.signaling import TechnicianConfirmed

MESSAGES: dict[str, dict[str, object]] = {
    "pointer_move": {"type": "pointer_move", "x": 10, "y": 20},
    "pointer_button": {"type": "pointer_button", "x": 10, "y": 20, "button": "left", "down": True},
    "wheel": {"type": "wheel", "x": 1, "y": 2, "dy": 3},
    "key": {"type": "key", "key": "a", "code": "KeyA", "down": True},
    "text": {"type": "text", "text": "hola"},
    "release_all": {"type": "release_all"},
}
VIEW_CONTROL = [Permission.VIEW, Permission.CONTROL]


def _policy(state: str) -> Policy:
    policy = Policy()
    if state == "not_consented":
        return policy
    if state == "control_not_granted":
        policy.grant(VIEW_CONTROL, [Permission.VIEW])
    elif state == "control_not_requested":
        policy.grant([Permission.VIEW], VIEW_CONTROL)
    else:
        policy.grant(VIEW_CONTROL, VIEW_CONTROL)
    if state == "sas_not_confirmed":
        policy.sas_confirmed = False
    if state != "technician_not_confirmed":
        required = state in ("identity_not_confirmed", "identity_confirmed")
        policy.technician(
            TechnicianConfirmed(
                sas_confirmed=True,
                identity_required=required,
                identity_confirmed=state == "identity_confirmed",
            )
        )
    if state == "control_paused":
        policy.paused = True
    return policy


EXPECTED = {
    "not_consented": "not_consented",
    "sas_not_confirmed": "sas_not_confirmed",
    "control_not_granted": "control_not_granted",
    "control_not_requested": "control_not_granted",
    "control_paused": "control_paused",
    "technician_not_confirmed": "technician_not_confirmed",
    "identity_not_confirmed": "identity_not_confirmed",
    "identity_confirmed": None,
    "active": None,
}


@pytest.mark.parametrize("kind", sorted(MESSAGES))
@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_every_message_in_every_state(kind: str, state: str, caplog: pytest.LogCaptureFixture) -> None:
    policy = _policy(state)
    caplog.set_level(logging.INFO, logger="veo.agent.policy")
    verdict = policy.judge(json.dumps(MESSAGES[kind]))
    expected = EXPECTED[state]
    assert verdict.message_type == kind
    if expected is None:
        assert verdict.allowed and verdict.message is not None and verdict.message.type == kind
        assert "dropped" not in caplog.text
    else:
        assert not verdict.allowed and verdict.reason == expected
        assert f"dropped type={kind} reason={expected}" in caplog.text


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("not json", "unknown"),
        ("[1, 2]", "unknown"),
        ('{"type": "format_disk"}', "format_disk"),
        ('{"type": "DROP TABLE x; --"}', "unknown"),
        ('{"type": "pointer_move", "x": -5, "y": 1}', "pointer_move"),
        ('{"type": "key", "key": "", "down": true}', "key"),
        ('{"type": "pointer_move", "x": 1, "y": 1, "v": 9}', "pointer_move"),
        (b"\xff\xfe", "unknown"),
    ],
)
def test_invalid_messages_are_dropped_even_when_active(
    raw: str | bytes, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veo.agent.policy")
    verdict = _policy("active").judge(raw)
    assert verdict.reason == "invalid" and verdict.message_type == kind
    assert f"dropped type={kind} reason=invalid" in caplog.text


def test_grant_is_intersection_and_forget_wipes_it() -> None:
    policy = Policy()
    policy.grant([Permission.VIEW], [Permission.VIEW, Permission.CONTROL])
    assert policy.granted == {Permission.VIEW} and not policy.control_granted
    policy.grant(VIEW_CONTROL, [Permission.CONTROL])  # control without view makes no sense
    assert policy.granted == frozenset()
    policy.grant(VIEW_CONTROL, VIEW_CONTROL)
    assert not policy.control_active and policy.waiting_for() == ["technician_sas"]
    policy.technician(TechnicianConfirmed(sas_confirmed=True, identity_required=True))
    assert not policy.control_active and policy.waiting_for() == ["identity"]
    confirmed = TechnicianConfirmed(sas_confirmed=True, identity_required=True, identity_confirmed=True)
    policy.technician(confirmed)
    assert policy.control_active and policy.waiting_for() == []
    policy.paused = True
    assert policy.control_granted and not policy.control_active
    policy.forget()
    assert policy.granted == frozenset() and not policy.consented and not policy.paused
    assert not policy.technician_sas_confirmed and not policy.identity_confirmed
    assert policy.judge(json.dumps(MESSAGES["key"])).reason == "not_consented"


class RecordingInjector(InputInjector):
    """Records the calls it gets: the real part under test here is the dispatch table."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def pointer_move(self, x: int, y: int) -> None:
        self.calls.append(("move", x, y))

    def pointer_button(self, x: int, y: int, button: Button, down: bool) -> None:
        self.calls.append(("button", x, y, button, down))

    def wheel(self, x: int, y: int, dx: int, dy: int) -> None:
        self.calls.append(("wheel", x, y, dx, dy))

    def key(self, key: str, code: str, down: bool) -> None:
        self.calls.append(("key", key, code, down))

    def text(self, text: str) -> None:
        self.calls.append(("text", text))

    def release_all(self) -> None:
        self.calls.append(("release_all",))

    def close(self) -> None:
        self.calls.append(("close",))


def test_dispatch_covers_every_input_type_and_maps_fields() -> None:
    assert set(DISPATCH) == set(MESSAGES)
    injector = RecordingInjector()
    policy = _policy("active")
    for kind in sorted(MESSAGES):
        verdict = policy.judge(json.dumps(MESSAGES[kind]))
        assert verdict.message is not None
        apply(injector, verdict.message)
    assert injector.calls == [
        ("key", "a", "KeyA", True),
        ("button", 10, 20, "left", True),
        ("move", 10, 20),
        ("release_all",),
        ("text", "hola"),
        ("wheel", 1, 2, 0, 3),
    ]


def test_drop_notices_once_per_reason_per_interval() -> None:
    notices = DropNotices(interval=2.0)
    assert notices.should_notify("control_paused", 100.0)
    assert not notices.should_notify("control_paused", 101.0)
    assert notices.should_notify("not_consented", 101.0)
    assert notices.should_notify("control_paused", 102.5)
