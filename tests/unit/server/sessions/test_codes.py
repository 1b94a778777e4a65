from __future__ import annotations

from veo.server.sessions.codes import code_digest, display_code, new_code, normalize_code


def test_codes_have_nine_digits_and_display_in_groups() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 9 and c.isdigit() for c in codes)
    assert len(codes) > 190
    assert display_code("012345678") == "012 345 678"
    assert display_code(None) == ""


def test_normalize_and_digest() -> None:
    assert normalize_code(" 123-456 789 ") == "123456789"
    assert code_digest("123456789") != "123456789"
    assert len(code_digest("123456789")) == 64
