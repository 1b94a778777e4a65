"""The shape of the sign-in limits: lockout after five, address delay doubling up to a cap."""

from __future__ import annotations

from datetime import timedelta

from veo.server.auth import limits


def test_account_locks_on_the_fifth_failure() -> None:
    assert [limits._delay(n, account=True) for n in range(1, 6)] == [
        None,
        None,
        None,
        None,
        limits.ACCOUNT_LOCK,
    ]
    assert timedelta(minutes=15) == limits.ACCOUNT_LOCK


def test_address_delay_grows_and_is_capped() -> None:
    delays = [limits._delay(n, account=False) for n in range(1, 8)]
    assert delays[:3] == [None, None, None]
    assert delays[3:] == [
        timedelta(seconds=2),
        timedelta(seconds=4),
        timedelta(seconds=8),
        timedelta(seconds=16),
    ]
    assert limits._delay(10_000, account=False) == limits.ADDRESS_MAX_DELAY
