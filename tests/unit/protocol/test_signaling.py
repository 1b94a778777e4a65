"""The wire contract rejects every malformed message with a specific, stable error code."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veo.protocol import ProtocolError, parse_agent_message, parse_console_message
from veo.protocol.base import MAX_MESSAGE_BYTES
from veo.protocol.signaling import Consent, ConsoleOffer, IceServer, Join, Offer, parse_server_message

HEX = "ab" * 32


def test_join_normalizes_the_code_as_people_type_it() -> None:
    message = parse_agent_message('{"type": "join", "v": 1, "code": "123 456-789"}')
    assert isinstance(message, Join)
    assert message.code == "123456789"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "malformed_json"),
        ("[1, 2]", "invalid_message"),
        ('{"v": 1}', "invalid_message"),
        ('{"type": "join", "v": 2, "code": "123456789"}', "unsupported_version"),
        ('{"type": "launch_missiles", "v": 1}', "unknown_type"),
        ('{"type": "join", "v": 1, "code": "12345"}', "invalid_message"),
        ('{"type": "offer", "v": 1, "sdp": "v=0 ......", "commitment": "xyz"}', "invalid_message"),
        ('{"type": "consent", "v": 1, "granted": ["root"], "sas_confirmed": true}', "invalid_message"),
        ('{"type": "deny", "v": 1, "extra": 1}', "invalid_message"),
    ],
)
def test_bad_agent_messages_get_specific_codes(raw: str, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_agent_message(raw)
    assert caught.value.code == code
    assert caught.value.message


def test_oversized_messages_are_refused_before_parsing() -> None:
    raw = json.dumps({"type": "offer", "v": 1, "sdp": "x" * MAX_MESSAGE_BYTES, "commitment": HEX})
    with pytest.raises(ProtocolError) as caught:
        parse_agent_message(raw)
    assert caught.value.code == "too_large"


def test_console_cannot_send_agent_only_messages() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_console_message(Consent(granted=[], sas_confirmed=True).dumps())
    assert caught.value.code == "unknown_type"


def test_round_trip_of_an_offer() -> None:
    offer = Offer(sdp="v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", commitment=HEX)
    assert parse_agent_message(offer.dumps()) == offer
    # what a console receives: the agent's offer, plus its own ICE servers and the ICE policy
    relayed = ConsoleOffer(
        sdp=offer.sdp,
        commitment=HEX,
        ice_servers=[IceServer(urls=["turn:turn.example.org:3478"], username="1:s.browser", credential="c")],
        ice_transport_policy="relay",
    )
    assert parse_server_message(relayed.dumps()) == relayed
    assert parse_server_message(offer.dumps()) == ConsoleOffer(sdp=offer.sdp, commitment=HEX)


@given(st.text(max_size=300))
def test_arbitrary_text_never_raises_anything_but_protocol_error(raw: str) -> None:
    with contextlib.suppress(ProtocolError):
        parse_agent_message(raw)


@given(
    st.dictionaries(
        st.sampled_from(["type", "v", "code", "sdp", "nonce", "granted"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=20), st.booleans()),
    )
)
def test_arbitrary_objects_never_raise_anything_but_protocol_error(data: dict[str, object]) -> None:
    with contextlib.suppress(ProtocolError):
        parse_agent_message(json.dumps(data))
