"""Property tests of every parser of the wire contract: whatever arrives, the only failure is a
:class:`ProtocolError`, and what parses is exactly a declared message (it round-trips).

Hypothesis draws raw bytes, arbitrary text, arbitrary JSON and, nastiest, JSON objects that carry a
real message ``type`` with random fields, so validation (not just JSON decoding) is exercised.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from veo.protocol.base import MAX_MESSAGE_BYTES, MAX_NESTING_DEPTH, ProtocolError
from veo.protocol.datachannel import (
    parse_agent_data_message,
    parse_console_data_message,
    parse_input_message,
)
from veo.protocol.signaling import parse_agent_message, parse_console_message, parse_server_message

Parser = Callable[[str | bytes], BaseModel]
PARSERS: dict[str, Parser] = {
    "agent": parse_agent_message,
    "console": parse_console_message,
    "server": parse_server_message,
    "input": parse_input_message,
    "console_data": parse_console_data_message,
    "agent_data": parse_agent_data_message,
}
TYPES = [
    "join", "offer", "reveal", "consent", "deny", "control_state", "hangup", "answer", "abort",
    "sas_confirm", "identity", "joined", "agent_joined", "session_state", "technician_confirmed",
    "ended", "error", "pointer_move", "pointer_button", "wheel", "key", "text", "release_all",
    "screen", "control", "dropped", "chat", "chat_read", "annotate", "annotate_erase", "tech_pointer",
    "clipboard", "file_offer", "file_accept", "file_reject", "file_progress", "file_cancel",
    "file_done", "select_monitor", "monitors", "sysinfo_request", "sysinfo", "sysinfo_declined",
    "cursor", "cursor_shape", "format_disk", "",
]  # fmt: skip
FIELDS = [
    "v", "code", "sdp", "commitment", "nonce", "granted", "sas_confirmed", "paused", "reason",
    "method", "x", "y", "button", "down", "dx", "dy", "key", "text", "width", "height", "active",
    "waiting_for", "identity_required", "identity_confirmed", "session_id", "requested", "by",
    "id", "tool", "points", "color", "done", "name", "size", "sha256", "received", "ok", "monitor",
    "info", "shape", "visible", "rgba", "hot_x", "hot_y",
]  # fmt: skip

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
#: JSON objects shaped like messages: a (mostly) real type, real field names, random values
message_like = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={"v": st.sampled_from([1, 2, "1", None])},
).flatmap(
    lambda head: st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6).map(
        lambda body: {**body, **head}
    )
)
raw_inputs = (
    st.binary(max_size=300)
    | st.text(max_size=300)
    | json_values.map(json.dumps)
    | message_like.map(json.dumps)
    | message_like.map(lambda m: json.dumps(m).encode())
)


def _parse_or_refuse(parser: Parser, raw: str | bytes) -> BaseModel | None:
    try:
        return parser(raw)
    except ProtocolError as exc:
        assert exc.code in {
            "too_large",
            "too_deep",
            "malformed_json",
            "unsupported_version",
            "unknown_type",
            "invalid_message",
        }
        return None


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=200, deadline=None)
@given(raw=raw_inputs)
def test_parsers_raise_only_protocol_errors_and_accept_only_declared_messages(name: str, raw: Any) -> None:
    parser = PARSERS[name]
    message = _parse_or_refuse(parser, raw)
    if message is not None:
        # what was accepted is a declared message, and it survives its own serialisation unchanged
        assert parser(message.model_dump_json()) == message
        assert json.loads(raw)["type"] == message.model_dump()["type"]


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_oversized_messages_are_refused_before_decoding(name: str) -> None:
    raw = '{"type": "text", "text": "' + "a" * MAX_MESSAGE_BYTES + '"}'
    with pytest.raises(ProtocolError) as info:
        PARSERS[name](raw)
    assert info.value.code == "too_large"


def _nest(openers: str, inner: str) -> str:
    """``inner`` wrapped in the given openers (``[`` or ``{``), each closed, objects keyed ``"k"``."""
    head = "".join("[" if o == "[" else '{"k":' for o in openers)
    tail = "".join("]" if o == "[" else "}" for o in reversed(openers))
    return head + inner + tail


@st.composite
def deep_inputs(draw: st.DrawFn) -> str | bytes:
    """Deeply nested payloads: closed or left open, bare or as a field of a real message type,
    as text or bytes. Before the depth bound, json.loads raised RecursionError on every one past
    about 1,000 levels.
    """
    pattern = draw(st.text(alphabet="[{", min_size=1, max_size=8))
    depth = draw(st.integers(MAX_NESTING_DEPTH + 1, 100_000))
    openers = (pattern * depth)[:depth]
    body = _nest(openers, "1") if draw(st.booleans()) else openers.replace("{", '{"k":')
    if draw(st.booleans()):
        kind, field = draw(st.sampled_from(TYPES)), draw(st.sampled_from(FIELDS))
        body = f'{{"type": "{kind}", "{field}": {body}}}'
    return body.encode() if draw(st.booleans()) else body


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=60, deadline=None)
@given(raw=deep_inputs() | st.binary(min_size=1, max_size=2000))
def test_nested_payloads_and_random_bytes_raise_only_protocol_errors(name: str, raw: str | bytes) -> None:
    # anything but a ProtocolError (RecursionError before the bound) fails the test by propagating
    assert _parse_or_refuse(PARSERS[name], raw) is None


@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize("opener", ["[", "{", '{"type": "text", "text": '])
def test_100000_deep_nesting_is_refused_as_too_deep(name: str, opener: str) -> None:
    for raw in (opener + "[" * 100_000, (opener + "[" * 60_000).encode()):
        with pytest.raises(ProtocolError) as info:
            PARSERS[name](raw)
        assert info.value.code == "too_deep"


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH, MAX_NESTING_DEPTH + 1])
def test_the_bound_is_exact_and_brackets_inside_strings_are_text(depth: int) -> None:
    brackets = '"' + '[[[{{{\\"[\\\\' * 50 + '"'  # brackets, escaped quotes and backslashes: text
    raw = f'{{"type": "chat", "text": {brackets}, "x": {_nest("[" * (depth - 1), "1")}}}'
    with pytest.raises(ProtocolError) as info:
        parse_console_data_message(raw)
    assert info.value.code == ("invalid_message" if depth == MAX_NESTING_DEPTH else "too_deep")
