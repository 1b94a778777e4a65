from __future__ import annotations

from veo.protocol import codes
from veo.server.sessions.codes import code_digest, new_code


def test_drawn_codes_follow_the_protocol_rule() -> None:
    drawn = {new_code() for _ in range(200)}
    assert all(codes.is_valid(c) and codes.normalise(codes.display(c)) == c for c in drawn)
    assert len(drawn) > 190


def test_digest() -> None:
    assert code_digest("123456789") != "123456789"
    assert len(code_digest("123456789")) == 64
