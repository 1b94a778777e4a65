"""The mid-session question's messages: what each side may send, and what is refused on arrival."""

from __future__ import annotations

import json

import pytest

from veo.protocol.asking import PermissionAnswer, PermissionAsk, PermissionStatus
from veo.protocol.base import ProtocolError
from veo.protocol.signaling import (
    parse_agent_message,
    parse_console_message,
    parse_server_message,
)

ID = "0123456789abcdef" * 2


def raw(**fields: object) -> str:
    return json.dumps({"v": 1, **fields})


def test_the_console_asks_for_known_permissions_only() -> None:
    message = parse_console_message(raw(type="permission_request", permissions=["control", "files"]))
    assert message.type == "permission_request"
    for bad in ([], ["root"], ["control"] * 5):
        with pytest.raises(ProtocolError) as info:
            parse_console_message(raw(type="permission_request", permissions=bad))
        assert info.value.code == "invalid_message"


def test_only_the_console_asks_and_only_the_agent_answers() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_agent_message(raw(type="permission_request", permissions=["control"]))
    assert info.value.code == "unknown_type"
    with pytest.raises(ProtocolError) as info:
        parse_console_message(raw(type="permission_answer", id=ID, outcome="accepted", granted=["control"]))
    assert info.value.code == "unknown_type"


@pytest.mark.parametrize(
    ("outcome", "granted", "valid"),
    [
        ("accepted", ["control"], True),
        ("accepted", [], False),  # "accepted" with nothing is a refusal in disguise
        ("refused", [], True),
        ("refused", ["control"], False),  # a refusal grants nothing
        ("timeout", [], True),
        ("timeout", ["files"], False),
    ],
)
def test_an_answer_grants_only_when_accepted(outcome: str, granted: list[str], valid: bool) -> None:
    text = raw(type="permission_answer", id=ID, outcome=outcome, granted=granted)
    if valid:
        message = parse_agent_message(text)
        assert isinstance(message, PermissionAnswer) and message.outcome == outcome
    else:
        with pytest.raises(ProtocolError):
            parse_agent_message(text)


def test_the_server_relays_the_question_and_its_status() -> None:
    ask = parse_server_message(PermissionAsk(id=ID, permissions=["clipboard"]).dumps())
    assert isinstance(ask, PermissionAsk) and ask.timeout_seconds == 60
    with pytest.raises(ProtocolError):
        parse_server_message(raw(type="permission_ask", id="not-an-id", permissions=["control"]))
    status = parse_server_message(PermissionStatus(state="pending", permissions=["control"]).dumps())
    assert isinstance(status, PermissionStatus) and status.timeout_seconds == 75
