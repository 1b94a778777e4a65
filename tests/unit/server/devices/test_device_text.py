"""The server's text rule for device messages is the protocol's, character for character."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veo.protocol.device import ShortText, _printable
from veo.server.devices.text import clean, has_control


def _protocol_refuses(char: str) -> bool:
    try:
        _printable(char)
    except ValueError:
        return True
    return False


def test_the_server_refuses_exactly_what_the_protocol_refuses() -> None:
    for point in range(0x3000):
        char = chr(point)
        assert has_control(char) == _protocol_refuses(char), hex(point)


@pytest.mark.parametrize("raw", ["Fix\x1b[2Jprinter", "it\x92s broken", "a \x96 b", "\x9b31m", "nul\x00"])
def test_clean_drops_every_control(raw: str) -> None:
    assert not has_control(clean(raw, 120))


@given(st.text(max_size=300), st.integers(min_value=1, max_value=200))
def test_whatever_is_stored_cleans_into_a_valid_short_text(raw: str, limit: int) -> None:
    from pydantic import TypeAdapter

    cleaned = clean(raw, min(limit, 120))
    assert len(cleaned) <= min(limit, 120)
    assert TypeAdapter(ShortText).validate_python(cleaned) == cleaned
