"""The device fields added to ``joined`` and ``session_state`` (issue 17) stay off the wire when unset.

Agents of the previous release parse ``joined`` with unknown fields forbidden: a ``"device": null``
would make every one of them refuse its session.
"""

from __future__ import annotations

import json

import pytest

from veo.protocol.device import DeviceSession, auth_payload, decode_public_key, encode_public_key
from veo.protocol.signaling import Joined, SessionState, parse_server_message


def _joined(**extra: object) -> Joined:
    return Joined(
        session_id="s", organization="o", technician_name="t", ticket_id=1, ticket_title="x", requested=[]
    ).model_copy(update=extra)


def test_an_ordinary_joined_reads_as_before() -> None:
    wire = json.loads(_joined().dumps())
    # exactly the fields a previous agent knows (its model forbids any other)
    assert set(wire) == set(Joined.model_fields) - {"device"}


def test_a_device_session_carries_its_device_and_parses_back() -> None:
    device = DeviceSession(device_name="Reception PC", policy="notify", reason="Printer queue stuck")
    joined = parse_server_message(_joined(device=device).dumps())
    assert isinstance(joined, Joined) and joined.device == device


def test_session_state_leaves_device_out_when_unset() -> None:
    state = SessionState(session_id="s", status="waiting", agent_connected=False, requested=[])
    assert "device" not in json.loads(state.dumps())


def test_the_signed_payload_separates_its_fields() -> None:
    nonce = bytes(32)
    assert auth_payload(nonce, "ab", "https://x") != auth_payload(nonce, "a", "bhttps://x")
    assert auth_payload(nonce, "ab", "HTTPS://X") == auth_payload(nonce, "ab", "https://x")


def test_public_keys_round_trip_and_refuse_other_lengths() -> None:
    raw = bytes(range(32))
    assert decode_public_key(encode_public_key(raw)) == raw
    with pytest.raises(ValueError):
        decode_public_key(encode_public_key(bytes(31)))
    with pytest.raises(ValueError):
        decode_public_key("not*base64")


@pytest.mark.parametrize("bad", ["a\x00b", "line\nbreak", "esc\x1b[31m", "del\x7f", "c1\x85"])
def test_names_users_and_reasons_refuse_control_characters(bad: str) -> None:
    from veo.protocol.base import ProtocolError
    from veo.protocol.device import parse_device_message

    with pytest.raises(ProtocolError):
        parse_device_message(json.dumps({"type": "device_heartbeat", "os_user": bad}))
    with pytest.raises(ValueError):
        DeviceSession(device_name="PC", policy="ask", reason=bad)
    assert parse_device_message(json.dumps({"type": "device_heartbeat", "os_user": "José Núñez"}))
