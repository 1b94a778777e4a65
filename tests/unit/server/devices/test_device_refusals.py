"""Which refused device authentications get their own audit row at once (``devices/refusals.py``)."""

from __future__ import annotations

from veo.server.devices.refusals import FirstPerDevice


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_first_per_address_group_reason_and_device_in_each_window() -> None:
    clock = Clock()
    first = FirstPerDevice(window_seconds=300, clock=clock)
    assert first.first("10.0.0.1", "revoked", "a" * 32)
    assert not first.first("10.0.0.1", "revoked", "a" * 32)
    assert first.first("10.0.0.1", "bad_signature", "a" * 32)  # another reason
    assert first.first("10.0.0.1", "revoked", "b" * 32)  # another device
    assert first.first("10.0.0.2", "revoked", "a" * 32)  # another address
    # IPv6 by /64, as every per-address limit counts
    assert first.first("2001:db8::1", "revoked", "a" * 32)
    assert not first.first("2001:db8::ffff", "revoked", "a" * 32)
    clock.now = 300.0
    assert first.first("10.0.0.1", "revoked", "a" * 32)  # a new window


def test_refusals_naming_no_enrolled_device_are_never_written_here() -> None:
    first = FirstPerDevice()
    for reason in ("unknown_device", "malformed", "challenge_expired"):
        assert not first.first("10.0.0.1", reason, "a" * 32)
    assert not first.first("10.0.0.1", "revoked", "")


def test_the_budget_bounds_rows_per_window_whatever_the_flood() -> None:
    clock = Clock()
    first = FirstPerDevice(window_seconds=300, max_immediate=5, clock=clock)
    written = sum(
        first.first(f"10.0.{i // 250}.{i % 250}", "bad_signature", f"{i:032x}") for i in range(1000)
    )
    assert written == 5
    clock.now = 301.0
    assert first.first("10.9.9.9", "bad_signature", "f" * 32)
