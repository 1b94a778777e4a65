"""Small pure helpers: the post-login redirect stays on this site; validation names the field."""

from __future__ import annotations

import pytest

from veo.server.auth.pages import safe_next
from veo.server.handlers import describe_validation


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/tickets/3", "/tickets/3"),
        ("/sessions/x/console?a=1", "/sessions/x/console?a=1"),
        ("//evil.example/", "/tickets"),
        ("https://evil.example/", "/tickets"),
        ("/\\evil.example", "/tickets"),
        ("", "/tickets"),
        (None, "/tickets"),
    ],
)
def test_safe_next(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_validation_message_names_the_missing_field() -> None:
    message = describe_validation([{"loc": ("body", "requester_email"), "type": "missing", "msg": "x"}])
    assert "requester_email" in message
    assert "required" in message
