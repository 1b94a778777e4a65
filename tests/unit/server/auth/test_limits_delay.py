"""The shape of the sign-in limits: lockout after five, address delay doubling up to a cap, keys."""

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


def test_addresses_are_keyed_as_the_join_code_limiter_keys_them() -> None:
    """IPv6 by /64 and mapped IPv4 as IPv4: one host cannot get a fresh delay per address."""
    assert limits.address_key("2001:db8:1:2::1") == limits.address_key("2001:db8:1:2:ffff::9")
    assert limits.address_key("2001:db8:1:2::1") != limits.address_key("2001:db8:1:3::1")
    assert limits.address_key("::ffff:192.0.2.7") == limits.address_key("192.0.2.7")
    assert limits.address_key("192.0.2.7") != limits.address_key("192.0.2.8")
