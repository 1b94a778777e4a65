"""argon2id with at least OWASP's minimum parameters, and honest verification."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from argon2.low_level import Type

from veo.server.auth import passwords

pytestmark = pytest.mark.real_argon2  # the production parameters, not the tests' cheap ones


def test_hash_is_argon2id_with_minimum_parameters() -> None:
    encoded = passwords.hash_password("correct horse battery staple")
    params = extract_parameters(encoded)
    assert encoded.startswith("$argon2id$")
    assert params.type is Type.ID
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert params.parallelism >= 1


def test_verify_accepts_only_the_right_password() -> None:
    encoded = passwords.hash_password("correct horse battery staple")
    assert passwords.verify_password(encoded, "correct horse battery staple")
    assert not passwords.verify_password(encoded, "correct horse battery stapler")
    assert not passwords.verify_password("not a hash", "anything")


def test_generated_passwords_are_long_and_different() -> None:
    first, second = passwords.generate_password(), passwords.generate_password()
    assert first != second
    assert len(first) >= passwords.MIN_LENGTH
