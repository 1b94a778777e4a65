"""Refused joins aggregated per address group and window, driven by fake clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from veo.server.lang import set_language
from veo.server.sessions.refusal_log import RefusalLog
from veo.server.web.wording import event_details


class Clocks:
    def __init__(self) -> None:
        self.now = 1000.0

    def mono(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.now)


def test_first_refusal_of_each_reason_is_written_the_rest_summed_when_the_window_closes() -> None:
    clocks = Clocks()
    log = RefusalLog(window_seconds=300, clock=clocks.mono, wallclock=clocks.wall)
    written = [log.note("192.0.2.1", "unknown") for _ in range(4)]
    written += [log.note("192.0.2.1", "rate_limited") for _ in range(996)]
    assert written.count(True) == 2 and written[0] and written[4]
    assert log.due() == []  # the window is still open
    assert log.pending() == 998
    clocks.now += 299
    log.note("192.0.2.1", "rate_limited")
    clocks.now += 1
    (tally,) = log.due()
    assert tally.address == "192.0.2.1"
    details = tally.details()
    assert details["count"] == 999 and details["reasons"] == {"rate_limited": 996, "unknown": 3}
    assert (details["first_at"], details["last_at"]) == (
        "2026-01-01T00:16:40+00:00",
        "2026-01-01T00:21:39+00:00",
    )
    assert log.due() == [] and log.pending() == 0
    # a new window starts with an immediate row again
    assert log.note("192.0.2.1", "unknown") is True


def test_a_window_with_only_immediate_rows_needs_no_summary() -> None:
    clocks = Clocks()
    log = RefusalLog(window_seconds=60, clock=clocks.mono, wallclock=clocks.wall)
    assert log.note("192.0.2.1", "used") and log.note("192.0.2.1", "expired")
    clocks.now += 61
    assert log.due() == []


def test_ipv6_addresses_of_one_64_share_a_tally_under_the_first_address() -> None:
    clocks = Clocks()
    log = RefusalLog(clock=clocks.mono, wallclock=clocks.wall)
    assert log.note("2001:db8::1", "unknown")
    assert not log.note("2001:db8::2", "unknown")
    (tally,) = log.due(everything=True)
    assert tally.address == "2001:db8::1" and tally.count == 1


def test_a_flood_from_many_addresses_is_bounded_in_rows_and_memory() -> None:
    clocks = Clocks()
    log = RefusalLog(
        window_seconds=300, max_immediate=10, max_groups=20, clock=clocks.mono, wallclock=clocks.wall
    )
    written = sum(log.note(f"10.0.{i // 256}.{i % 256}", "unknown") for i in range(5000))
    assert written == 10
    tallies = log.due(everything=True)
    assert len(tallies) == 11  # 20 groups counted one by one (10 of them also written), one for the rest
    others = [t for t in tallies if not t.address]
    assert len(others) == 1 and others[0].details()["other_addresses"] is True
    assert sum(t.count for t in tallies) + written == 5000  # every refusal is accounted for


def test_everything_is_flushed_at_shutdown() -> None:
    clocks = Clocks()
    log = RefusalLog(clock=clocks.mono, wallclock=clocks.wall)
    log.note("192.0.2.1", "unknown")
    log.note("192.0.2.1", "unknown")
    assert log.due() == []
    (tally,) = log.due(everything=True)
    assert tally.count == 1


def test_a_summary_row_reads_as_a_sentence_in_both_languages() -> None:
    clocks = Clocks()
    log = RefusalLog(clock=clocks.mono, wallclock=clocks.wall)
    for reason in ["unknown", "unknown", "unknown", "rate_limited", "rate_limited"]:
        log.note("192.0.2.1", reason)
    (tally,) = log.due(everything=True)
    try:
        set_language("en")
        english = event_details("session.code_rejected", tally.details())
        set_language("es")
        spanish = event_details("session.code_rejected", tally.details())
    finally:
        set_language("en")
    assert english.startswith("3 more refused attempts between ") and "does not exist (2)" in english
    assert spanish.startswith("3 intentos rechazados más entre ") and "(2)" in spanish
    assert "Reason" not in english
