"""The congestion controller: backs off on loss and on a building queue, holds on moderate loss,
recovers after a burst, ignores what is not congestion, and stays within its bounds whatever the
receiver says. Every clock is injected; nothing here is timed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veo.agent.congestion import (
    BURST_SECONDS,
    CEILING_BITRATE,
    DELAY_BACKOFF,
    FLOOR_BITRATE,
    ReceiverReport,
    SendBudget,
)
from veo.agent.delivery import BUSY_MIN_SECONDS, busy_rate
from veo.agent.link_memory import LOOSEN_PER_SECOND, MEMORY_SECONDS, LinkMemory
from veo.agent.start_rate import START_BITRATE, StartRate

PACKET = 1_200


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Receiver:
    """What a receiver's report blocks say: cumulative counters kept here."""

    highest: int = 1_000
    lost: int = 0

    def report(
        self,
        packets: int,
        lost: int = 0,
        rtt: float | None = 0.08,
        jitter: float = 0.002,
        packets_sent: int | None = None,
    ) -> ReceiverReport:
        self.highest += packets
        self.lost += lost
        return ReceiverReport(
            fraction_lost=lost / packets if packets else 0.0,
            packets_lost=self.lost,
            highest_sequence=self.highest,
            jitter=jitter,
            rtt=rtt,
            packet_bytes=float(PACKET),
            packets_sent=packets_sent,
        )


def _second(
    budget: SendBudget, clock: Clock, bitrate: float, remb: float | None = None, fps: int = 20
) -> None:
    """One second of frames at ``bitrate`` (whatever the budget says)."""
    for _ in range(fps):
        budget.spent(int(bitrate / 8 / fps), remb)
        clock.now += 1 / fps


def _packets(bitrate: float) -> int:
    return int(bitrate / 8 / PACKET)


def _streaming(bitrate: float = 2_000_000) -> tuple[SendBudget, Clock, Receiver]:
    """A budget that has streamed ``bitrate`` for a second, with one report (the minimum RTT)."""
    clock = Clock()
    budget = SendBudget(clock=clock)
    receiver = Receiver()
    budget.report(receiver.report(0))
    _second(budget, clock, bitrate)
    budget.report(receiver.report(_packets(bitrate)))
    return budget, clock, receiver


def test_heavy_loss_backs_off_by_the_loss() -> None:
    budget, clock, receiver = _streaming()
    assert not budget.limiting
    _second(budget, clock, 2_000_000)
    budget.report(receiver.report(200, lost=40))  # 20 %
    assert budget.rate is not None
    delivered = budget.controller.delivered
    assert delivered is not None
    assert budget.rate == pytest.approx(delivered * (1 - 0.2 / 2))


def test_moderate_loss_holds_the_rate() -> None:
    budget, clock, receiver = _streaming()
    _second(budget, clock, 2_000_000)
    budget.report(receiver.report(200, lost=50))  # 25 %: paced
    rate = budget.rate
    assert rate is not None
    for _ in range(5):
        _second(budget, clock, 2_000_000)
        budget.delay()  # held back: it would grow if the link looked free
        budget.report(receiver.report(200, lost=10))  # 5 %: neither down nor up
        assert budget.rate == rate


def test_loss_over_a_few_packets_is_noise() -> None:
    """One lost keystroke frame out of eight is 12 %: not a full link."""
    budget, clock, receiver = _streaming(30_000)
    _second(budget, clock, 30_000, fps=8)
    budget.report(receiver.report(8, lost=1))
    assert not budget.limiting


def test_a_building_queue_backs_off_before_any_loss() -> None:
    """Two sender reports in a row 100+ ms over the minimum round trip: a queue, not a frame."""
    budget, clock, receiver = _streaming()
    _second(budget, clock, 2_500_000)
    budget.report(receiver.report(_packets(2_000_000), rtt=0.08 + 0.12))
    assert not budget.limiting  # one sample may sit behind one large frame
    _second(budget, clock, 2_500_000)
    budget.report(receiver.report(_packets(2_000_000), rtt=0.08 + 0.15))  # no loss
    assert budget.rate is not None
    delivered = budget.controller.delivered
    assert delivered is not None
    # below 0.85x what arrived, by what drains the queue within a second
    assert budget.rate == pytest.approx(delivered * (DELAY_BACKOFF - 0.15))
    assert budget.rate < delivered * DELAY_BACKOFF


def test_one_sample_behind_a_large_frame_is_not_a_queue() -> None:
    budget, clock, receiver = _streaming()
    for rtt in (0.08 + 0.2, 0.08, 0.08 + 0.2, 0.09):
        _second(budget, clock, 1_500_000)
        budget.report(receiver.report(_packets(1_500_000), rtt=rtt))
        assert not budget.limiting


def test_a_long_queue_at_once_backs_off_at_once() -> None:
    budget, clock, receiver = _streaming()
    _second(budget, clock, 3_000_000)
    budget.report(receiver.report(_packets(2_000_000), rtt=0.08 + 0.35))
    assert budget.limiting


def test_packets_still_on_their_way_show_a_queue_between_round_trips() -> None:
    """Reports without a round trip: the packets sent and not yet received, aged by our own send
    times: the oldest has waited over 0.3 s after ~1.5 s: back off without waiting for a sender
    report."""
    budget, clock, receiver = _streaming()
    sent = receiver.highest + 500
    for _ in range(30):  # 2.9 Mbit/s into a link that delivers 2: 100 packets a second pile up
        for _ in range(3):
            budget.spent(12_000, None)
            clock.now += 1 / 30
        sent += 30
        budget.report(receiver.report(20, rtt=None, packets_sent=sent))
    assert budget.limiting
    delivered = budget.controller.delivered
    assert delivered is not None and budget.rate is not None and budget.rate < delivered * DELAY_BACKOFF


def test_no_second_cut_before_what_was_sent_before_the_first_arrived() -> None:
    """After a cut, the packets on their way are still the burst's, waiting ever longer: a
    second cut on them would only take the rate to the floor."""
    budget, clock, receiver = _streaming()
    sent = receiver.highest + 500

    def tenth(frames: int, received: int) -> None:
        """A tenth of a second: ``frames`` frames of 10 packets sent, ``received`` arrive."""
        nonlocal sent
        for _ in range(frames):
            budget.spent(12_000, None)
            sent += 10
        budget.delay()  # paced: the screen waits
        clock.now += 0.1
        budget.report(receiver.report(received, rtt=None, packets_sent=sent))

    while not budget.limiting:
        tenth(3, 20)
    first = budget.rate
    for _ in range(9):  # paced to what arrives: the burst's packets ahead wait ever longer
        tenth(1, 10)
        assert budget.rate is not None and budget.rate >= first
    while sent - receiver.highest > 10:  # drained
        tenth(1, 20)
    for _ in range(40):  # a queue builds again: cut again
        tenth(3, 20)
    assert budget.rate is not None and budget.rate < first


def test_a_queue_left_by_a_burst_that_ended_is_not_acted_on() -> None:
    """A keyframe's burst queued, but the stream now sends keystrokes: it drains by itself."""
    budget, clock, receiver = _streaming()
    _second(budget, clock, 20_000, fps=8)
    budget.report(receiver.report(_packets(2_000_000), rtt=0.08 + 0.4))
    assert not budget.limiting


def test_a_draining_queue_is_not_cut_again() -> None:
    budget, clock, receiver = _streaming()
    _second(budget, clock, 2_500_000)
    budget.report(receiver.report(_packets(2_000_000), rtt=0.5))
    rate = budget.rate
    _second(budget, clock, 1_000_000)
    budget.report(receiver.report(_packets(1_000_000), rtt=0.3))  # still a queue, but falling
    assert budget.rate == rate


def test_a_queue_that_keeps_building_is_cut_again_after_the_hold() -> None:
    budget, clock, receiver = _streaming()
    _second(budget, clock, 2_500_000)
    budget.report(receiver.report(_packets(2_000_000), rtt=0.45))
    first = budget.rate
    assert first is not None
    _second(budget, clock, 2_500_000)
    budget.report(receiver.report(_packets(1_000_000), rtt=0.55))
    assert budget.rate is not None and budget.rate < first


def test_a_jitter_that_keeps_growing_backs_off_without_round_trips() -> None:
    budget, clock, receiver = _streaming()
    _second(budget, clock, 2_500_000)
    budget.report(receiver.report(_packets(2_000_000), rtt=None, jitter=0.002))
    for _ in range(3):  # no round-trip sample for a while
        _second(budget, clock, 2_500_000)
    budget.report(receiver.report(_packets(2_000_000), rtt=None, jitter=0.030))
    assert budget.limiting


def test_a_low_remb_after_a_quiet_spell_is_not_congestion() -> None:
    """After typing, REMB is ~1.5x what it got; the round trips show no queue: no pacing."""
    clock = Clock()
    budget = SendBudget(clock=clock, start_rate=None)
    receiver = Receiver()
    for _ in range(10):  # typing, REMB following at 1.5x
        _second(budget, clock, 30_000, remb=50_000, fps=8)
        budget.report(receiver.report(3))
    for _ in range(3):  # a scroll at 3 Mbit/s; REMB still low, but it does not fall
        _second(budget, clock, 3_000_000, remb=50_000, fps=30)
        budget.report(receiver.report(_packets(3_000_000)))
        assert not budget.limiting and budget.delay() == 0.0


def test_a_falling_remb_with_no_known_queue_cuts_at_most_by_half() -> None:
    budget, clock, _ = _streaming()
    _second(budget, clock, 2_000_000, remb=2_500_000)
    budget.spent(10_000, 100_000)  # the receiver's estimator says overuse
    assert budget.rate is not None
    assert budget.rate >= 0.5 * 2_000_000 * 0.9


def test_remb_collapsing_after_a_burst_does_not_drag_the_rate_down() -> None:
    """Once we backed off, a REMB that keeps falling while the round trips show the queue
    draining or empty is the receiver's estimator lagging: the rate stays, then grows."""
    budget, clock, receiver = _streaming()
    _second(budget, clock, 2_500_000, remb=2_500_000)
    budget.report(receiver.report(_packets(2_000_000), rtt=0.4))
    rate = budget.rate
    assert rate is not None
    remb = 1_700_000.0
    for rtt in (0.25, 0.09, 0.08, 0.08):  # draining, then empty
        for _ in range(4):  # REMB keeps falling all the while
            remb *= 0.85
            budget.spent(5_000, remb)
            clock.now += 0.25
        budget.delay()
        budget.report(receiver.report(_packets(rate), rtt=rtt))
    assert remb < 200_000
    assert budget.rate is not None and budget.rate >= rate


def test_recovers_to_the_link_rate_within_a_few_reports_after_a_collapse() -> None:
    """From the floor (a burst took everything) to 80 % of the rate where the link last filled
    (2 Mbit/s) in five reports, multiplicatively; additively from there."""
    budget, clock, receiver = _streaming()
    for _ in range(3):  # heavy loss three times: down to the floor
        _second(budget, clock, 2_000_000)
        budget.report(receiver.report(200, lost=200))
    assert budget.rate == FLOOR_BITRATE
    budget.controller.congested_rate = 2_000_000  # the link filled at 2 Mbit/s
    reports = 0
    while budget.rate is not None and budget.rate < 0.8 * 2_000_000:
        rate = budget.rate
        _second(budget, clock, rate)
        assert budget.delay() >= 0
        budget.spent(50_000, None)  # the content wants more than the rate: held back
        assert budget.delay() > 0
        budget.report(receiver.report(_packets(rate)))
        reports += 1
        assert reports <= 5
    # near the last congestion the growth is additive: gentle where the link filled
    rate = budget.rate
    assert rate is not None
    _second(budget, clock, rate)
    budget.spent(50_000, None)
    budget.delay()
    budget.report(receiver.report(_packets(rate)))
    assert budget.rate is not None and rate < budget.rate <= rate + 0.1 * 2_000_000


def test_an_idle_stream_does_not_grow_the_rate() -> None:
    """Growth needs captures held back: a quiet screen proves nothing about the link."""
    budget, clock, receiver = _streaming()
    _second(budget, clock, 2_000_000)
    budget.report(receiver.report(200, lost=100))
    rate = budget.rate
    for _ in range(5):
        _second(budget, clock, 20_000, fps=8)
        budget.report(receiver.report(2))
    assert budget.rate == rate


def test_never_below_the_floor() -> None:
    budget, clock, receiver = _streaming()
    for _ in range(20):
        _second(budget, clock, 2_000_000, remb=1_000)
        budget.report(receiver.report(200, lost=200, rtt=5.0))
        assert budget.rate is not None and budget.rate >= FLOOR_BITRATE


def test_garbage_reports_are_ignored() -> None:
    budget, clock, _ = _streaming()
    for garbage in (
        ReceiverReport(-1.0, -5, 0, -3.0, rtt=-2.0),
        ReceiverReport(7.0, 1 << 30, 0xFFFFFFFF, 1e9, rtt=1e9, packet_bytes=-4.0),
        ReceiverReport(math.nan, 0, 5, math.inf, rtt=math.nan),
        ReceiverReport(0.0, 0, 3, 0.0, rtt=math.inf),
    ):
        _second(budget, clock, 2_000_000)
        budget.report(garbage)
        assert budget.rate is None or FLOOR_BITRATE <= budget.rate <= CEILING_BITRATE
        assert 0.0 <= budget.delay() < 10.0


# -------------------------------------------------------------------- a link, simulated


@dataclass
class Link:
    """A bottleneck like the bench's *poor* link: rate, base round trip, a 1-s tail-drop queue."""

    rate: float = 2_000_000
    rtt: float = 0.08
    queued_bits: float = 0.0
    sent: int = 0
    lost: int = 0
    arrivals: list[tuple[float, float]] = field(default_factory=list)

    def queue_delay(self) -> float:
        return self.queued_bits / self.rate

    def send(self, now: float, nbytes: int) -> None:
        for _ in range(max(1, math.ceil(nbytes / PACKET))):
            self.sent += 1
            if self.queue_delay() > 1.0:
                self.lost += 1
                continue
            self.queued_bits += min(nbytes, PACKET) * 8
        self.arrivals.append((now, now + self.rtt / 2 + self.queue_delay()))

    def run(self, seconds: float) -> None:
        self.queued_bits = max(0.0, self.queued_bits - self.rate * seconds)


def _simulate(
    budget: SendBudget,
    clock: Clock,
    link: Link,
    seconds: float,
    scrolling: bool,
    frame_bytes: int = 11_000,
    report_every: float = 0.1,
) -> list[float]:
    """The screen changes at 30 fps (scrolling: 11 KB frames, 2.6 Mbit/s as 1080p scrolling sends
    unshaped, else 8 keystrokes a second of 400
    bytes); a frame goes when the budget allows; the receiver reports every second. Returns each
    frame's one-way latency (capture to arrival). The receiver reports every ``report_every`` s
    (0.1: with its NACKs), a round trip comes once a second; a scroll frame is ``frame_bytes``."""
    step = 0.005
    latencies: list[float] = []
    frame_every = 1 / 30 if scrolling else 1 / 8
    wanted_at = clock.now
    report_at = clock.now + report_every
    rtt_at = clock.now + 1.0
    receiver = Receiver(highest=link.sent, lost=link.lost)
    end = clock.now + seconds
    changed_at: float | None = None
    while clock.now < end:
        if clock.now >= wanted_at:
            changed_at = changed_at if changed_at is not None else wanted_at
            wanted_at += frame_every
        if changed_at is not None and budget.delay() == 0.0:
            nbytes = frame_bytes if scrolling else 400
            budget.spent(nbytes, None)
            link.send(clock.now, nbytes)
            latencies.append(link.arrivals[-1][1] - changed_at)
            changed_at = None
        if clock.now >= report_at:
            arrived = link.sent - math.ceil(link.queued_bits / (PACKET * 8))  # the rest is queued
            packets, lost = arrived - receiver.highest, link.lost - receiver.lost
            rtt = link.rtt + link.queue_delay() if clock.now >= rtt_at else None
            rtt_at += 1.0 if rtt is not None else 0.0  # a round trip once a second
            budget.report(receiver.report(packets, lost, rtt=rtt, packets_sent=link.sent + 70_000))
            report_at += report_every
        clock.now += step
        link.run(step)
    return latencies


def test_a_burst_on_the_poor_link_keeps_moving_and_typing_recovers_within_two_seconds() -> None:
    """Typing, a 4-s scroll that wants 3.6 Mbit/s on the 2 Mbit/s link, typing again."""
    clock = Clock()
    budget = SendBudget(clock=clock)
    link = Link()
    _simulate(budget, clock, link, 3, scrolling=False)
    scroll = _simulate(budget, clock, link, 4, scrolling=True)
    assert len(scroll) / 4 >= 5  # updates a second
    assert budget.limiting
    # past the first report, the queue stays well short of the 1-s tail drop
    assert max(scroll[len(scroll) // 3 :]) < 0.6
    after = _simulate(budget, clock, link, 4, scrolling=False)
    settled = [latency for latency in after[16:]]  # two seconds of keystrokes later
    assert max(settled) < link.rtt / 2 + 0.02
    assert link.lost == 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("frame"), st.integers(0, 200_000), st.one_of(st.none(), st.floats(1, 1e10))),
            st.tuples(
                st.just("report"),
                st.floats(allow_nan=True, allow_infinity=True),
                st.integers(-(1 << 23), (1 << 23) - 1),
                st.integers(0, 0xFFFFFFFF),
                st.floats(allow_nan=True, allow_infinity=True),
                st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
            ),
            st.tuples(st.just("wait"), st.floats(0, 5)),
        ),
        max_size=60,
    )
)
def test_the_rate_stays_within_its_bounds_whatever_the_reports(events: list[tuple[object, ...]]) -> None:
    clock = Clock()
    budget = SendBudget(clock=clock)
    for event in events:
        if event[0] == "frame":
            _, nbytes, remb = event
            budget.spent(int(nbytes), remb)  # type: ignore[call-overload]
        elif event[0] == "report":
            _, fraction, lost, highest, jitter, rtt = event
            budget.report(ReceiverReport(fraction, lost, highest, jitter, rtt=rtt))  # type: ignore[arg-type]
        else:
            clock.now += float(event[1])  # type: ignore[arg-type]
        rate = budget.rate
        assert rate is None or FLOOR_BITRATE <= rate <= CEILING_BITRATE
        delay = budget.delay()
        assert delay >= 0.0 and math.isfinite(delay)


# -------------------------------------------------------------------- the first cut's base, the link's memory

#: x264's two slices: a 12.9-KB frame goes as 13 packets of ~1 KB (not 10 full ones), as the
#: sender reports' octets / packets tell the controller
BURST_FRAME_PACKETS = 13
PACKET_PAYLOAD = 12_900 / BURST_FRAME_PACKETS
LINK_PACKET_BITS = (PACKET_PAYLOAD + 50) * 8


def _typing_then_a_burst(budget: SendBudget, clock: Clock) -> tuple[int, int, int]:
    """Three seconds of typing with a report each second, then 0.6 s more typing and half a
    second of a 3.1 Mbit/s scroll into a 2 Mbit/s link, 80 ms round trip. Returns (our packets
    sent so far, the receiver's highest sequence, the packets that arrived in the last interval)."""
    sent, highest = 5_000, 1_000

    def report(packets: int, rtt: float) -> None:
        nonlocal highest
        highest += packets
        budget.report(
            ReceiverReport(0.0, 0, highest, 0.002, rtt=rtt, packet_bytes=PACKET_PAYLOAD, packets_sent=sent)
        )

    report(0, 0.08)
    for _ in range(3):
        for _ in range(8):
            budget.spent(400, None)  # one packet
            sent += 1
            clock.now += 1 / 8
        report(8, 0.08)
    for _ in range(5):
        budget.spent(400, None)
        sent += 1
        clock.now += 1 / 8
    burst_start = clock.now
    for _ in range(15):
        budget.spent(12_900, None)
        sent += BURST_FRAME_PACKETS
        clock.now += 1 / 30
    # counted by the receiver 40 ms before the report reached us, the burst's first packet
    # having arrived 40 ms after it left: 0.42 s of the link's rate
    arrived = 5 + int(2_000_000 / LINK_PACKET_BITS * (clock.now - burst_start - 0.08))
    queue = (sent - 4_000 - (highest + arrived)) * LINK_PACKET_BITS / 2_000_000
    report(arrived, 0.08 + queue)
    return sent, highest, arrived


def test_the_first_cut_is_based_on_what_arrived_while_the_burst_was_sent() -> None:
    """The report interval before the first cut is mostly typing (~0.8 Mbit/s delivered over it);
    what the receiver got during the burst is the link's 2 Mbit/s: the cut starts from that,
    not near the floor (a bench run's first cut from 640 kbit/s took ~5 s to grow back)."""
    clock = Clock()
    budget = SendBudget(clock=clock)
    _typing_then_a_burst(budget, clock)
    delivered = budget.controller.delivered
    assert delivered is not None and delivered < 1_000_000  # the interval's rate: mostly typing
    assert budget.rate is not None  # a queue of ~0.4 s: cut at once
    assert 0.45 * 2_000_000 <= budget.rate <= DELAY_BACKOFF * 2_000_000
    assert budget.controller.congested_rate is not None
    assert budget.controller.congested_rate <= 2_000_000 * 1.01  # a lower bound of the link's rate


def test_a_burst_after_the_rate_was_released_starts_paced_to_the_link_learnt_at_congestion() -> None:
    """After a congestion the controller let go (REMB said the link had room, no round trips):
    the next burst is still paced to the rate the link delivered then, loosened a little by the
    time since, not sent at 3 Mbit/s into the 1-s queue."""
    clock = Clock()
    budget = SendBudget(clock=clock)
    _typing_then_a_burst(budget, clock)
    learnt = budget.controller.link.bound(clock.now)
    assert learnt is not None and 1_900_000 <= learnt <= 2_000_000 * 1.01
    for _ in range(5):  # five seconds of typing, no round trips, REMB well above what we send
        _second(budget, clock, 50_000, remb=1_000_000, fps=8)
    assert budget.rate is None  # the controller no longer paces
    start = clock.now
    sent_bits = 0
    while clock.now < start + 1.0:  # a scroll that wants 3.1 Mbit/s
        if budget.delay() == 0.0:
            budget.spent(12_900, None)
            sent_bits += 12_900 * 8
        clock.now += 1 / 30
    bound = learnt * (1 + 0.01 * 6.1)
    assert sent_bits <= bound * (1.0 + BURST_SECONDS) + 12_900 * 8
    assert sent_bits >= 0.8 * bound


def test_the_links_rate_loosens_with_time_and_is_forgotten() -> None:
    memory = LinkMemory()
    assert memory.bound(0.0) is None
    memory.learn(10.0, 2_000_000)
    assert memory.bound(10.0) == pytest.approx(2_000_000)
    assert memory.bound(30.0) == pytest.approx(2_000_000 * (1 + LOOSEN_PER_SECOND * 20))
    assert memory.bound(10.0 + MEMORY_SECONDS) is None
    memory.learn(100.0, 1_500_000)
    memory.forget()
    assert memory.bound(100.0) is None


def test_growing_past_the_ceiling_forgets_the_link() -> None:
    clock = Clock()
    budget = SendBudget(clock=clock, start_rate=None)
    budget.controller.link.learn(clock.now, 2_000_000)
    budget.controller.rate = CEILING_BITRATE * 0.99
    budget.controller._grown_at = clock.now - 1.0
    budget.controller._increase(clock.now, held_back=True)
    assert budget.rate is None
    assert budget.controller.pacing_rate(clock.now) is None


def test_the_loss_of_a_burst_sent_before_the_cut_does_not_cut_again() -> None:
    """The queue overflowed before the first cut: the next report's interval holds the burst's
    dropped packets. Their loss is the old rate's; only loss among packets sent after the cut
    cuts again (in bench runs a second cut on it, then a third, took the rate to the floor)."""
    clock = Clock()
    budget = SendBudget(clock=clock)
    sent, highest, _ = _typing_then_a_burst(budget, clock)
    first = budget.rate
    assert first is not None

    def interval(seconds: float, lost_share: float) -> None:
        nonlocal sent, highest
        end = clock.now + seconds
        while clock.now < end:
            if budget.delay() == 0.0:
                budget.spent(12_900, None)
                sent += BURST_FRAME_PACKETS
            clock.now += 1 / 30
        expected = sent - 4_000 - highest - 20  # all but the last 20 packets reached the receiver
        lost = int(expected * lost_share)
        highest += expected
        budget.report(
            ReceiverReport(
                lost_share, lost, highest, 0.002, rtt=None, packet_bytes=PACKET_PAYLOAD, packets_sent=sent
            )
        )

    interval(0.9, 0.6)  # the burst's tail-drop, counted in this interval
    assert budget.rate == first
    interval(0.9, 0.6)  # packets sent at the new rate lost as badly: the link is worse still
    assert budget.rate is not None and budget.rate < first


def test_the_busy_rate_never_counts_more_than_the_receiver_did() -> None:
    """Packets on their way undercounted (a stream never quite idle overstates the smallest
    difference): the busy rate still counts no more than the receiver's reports did since the
    last report before the period began."""
    frames = [(10.0 + i / 30, 12_900) for i in range(30)]  # 3.1 Mbit/s for a second
    now = 11.0
    many = [(9.0, 0), (now, 10_000)]
    unbounded = busy_rate(now, frames, 0, 0.08, 1_000.0, 50.0, many)
    assert unbounded is not None and unbounded > 3_000_000  # all sent taken as arrived
    few = [(9.0, 0), (10.6, 50), (now, 250)]  # 200 counted after the report at 10.6
    bounded = busy_rate(now, frames, 0, 0.08, 1_000.0, 50.0, few)
    assert bounded is not None
    # a start after 10.52 is bounded by 200 packets, one before it by 250 over >= 0.92 s
    assert bounded <= max(200 * 1_050 * 8 / BUSY_MIN_SECONDS, 250 * 1_050 * 8 / 0.92)
    assert busy_rate(now, frames, 0, 0.08, 1_000.0, 50.0, [(now, 10_000)]) is None


def test_no_growth_while_a_packet_on_its_way_has_waited_long() -> None:
    """After the first cut the burst's queue drains: the packets on their way say so between
    round trips (the oldest waits less each report, but still over 100 ms), and the rate must
    not grow into it, whatever an older round trip said (a bench run grew 745 kbit/s -> 1.16
    Mbit/s within a second of its first cut, into the still-full queue)."""
    clock = Clock()
    budget = SendBudget(clock=clock)
    sent, highest, _ = _typing_then_a_burst(budget, clock)
    first = budget.rate
    assert first is not None
    # the latest round trip said no queue (in the bench the cut came from the packets on their
    # way; the round trips were of sender reports sent before the burst)
    budget.controller._queue, budget.controller._draining = 0.0, False
    budget.controller._rtt_at = clock.now
    per_tenth = int(2_000_000 / LINK_PACKET_BITS / 10)
    while sent - 4_000 - highest > 3 * per_tenth:  # until under ~0.3 s of queue is left
        for _ in range(3):
            if budget.delay() == 0.0:
                budget.spent(12_900, None)
                sent += BURST_FRAME_PACKETS
            clock.now += 1 / 30
        highest = min(highest + per_tenth, sent - 4_000)
        budget.report(
            ReceiverReport(0.0, 0, highest, 0.002, rtt=None, packet_bytes=PACKET_PAYLOAD, packets_sent=sent)
        )
        assert budget.rate == first


# -------------------------------------------------------------------- the start rate and its probes

#: a frame of 1080p scrolling scaled to the console (~6.5 Mbit/s at 30 fps, as the bench sends
#: unshaped)
SCALED_SCROLL_FRAME = 27_000


def test_a_first_burst_on_an_unknown_poor_link_starts_paced_and_loses_nothing() -> None:
    """A fresh session (no congestion seen, nothing remembered), six seconds of typing, then two
    seconds of a scroll that wants 6.5 Mbit/s on the 2 Mbit/s link, the receiver reporting once
    a second (nothing lost, so no NACKs to report with). Unpaced, the 1-s queue overflows
    before the first report shows it (the bench's 3.2-s stall); paced to the start rate it
    builds slowly enough to be cut before anything is dropped, and typing is back within 2 s."""
    clock = Clock()
    budget = SendBudget(clock=clock)
    link = Link()
    _simulate(budget, clock, link, 6, scrolling=False, report_every=1.0)
    burst = _simulate(
        budget, clock, link, 2, scrolling=True, frame_bytes=SCALED_SCROLL_FRAME, report_every=1.0
    )
    assert len(burst) / 2 >= 5  # updates a second
    after = _simulate(budget, clock, link, 4, scrolling=False, report_every=1.0)
    assert link.lost == 0
    assert max(after[16:]) < link.rtt / 2 + 0.02  # two seconds of keystrokes later
    assert budget.controller.congested_rate is not None  # the burst was cut: the start ended
    assert budget.controller.start.rate is None


def _start_rates(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """Every start rate the probes leave, in order."""
    seen: list[float | None] = []
    probed = StartRate.probed

    def recording(self: StartRate, delivered: float | None, waited: float | None) -> None:
        probed(self, delivered, waited)
        seen.append(self.rate)

    monkeypatch.setattr(StartRate, "probed", recording)
    return seen


def test_the_start_rate_does_not_grow_on_a_link_that_does_not_carry_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The probe doubles the start rate only when the link delivered most of it over half a
    second, with no packet waiting: the 2 Mbit/s link never does at 2.5 Mbit/s, so the start
    rate stays until the queue cuts it."""
    seen = _start_rates(monkeypatch)
    clock = Clock()
    budget = SendBudget(clock=clock)
    link = Link()
    _simulate(budget, clock, link, 3, scrolling=False)
    _simulate(budget, clock, link, 2, scrolling=True, frame_bytes=SCALED_SCROLL_FRAME)
    assert seen and all(rate == START_BITRATE for rate in seen)


def test_a_fast_link_lets_the_stream_go_unpaced_within_a_few_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a 50 Mbit/s link the start rate is no limit for long: each report shows the link
    carried it, the rate doubles from what arrived, and within four reports of the scroll's
    start the stream is no longer paced (30 frames a second). Without the probe it stays paced."""

    def scroll() -> tuple[SendBudget, list[float]]:
        clock = Clock()
        budget = SendBudget(clock=clock)
        link = Link(rate=50_000_000, rtt=0.002)
        _simulate(budget, clock, link, 2, scrolling=False, report_every=1.0)
        _simulate(budget, clock, link, 4, scrolling=True, frame_bytes=SCALED_SCROLL_FRAME, report_every=1.0)
        last = _simulate(
            budget, clock, link, 1, scrolling=True, frame_bytes=SCALED_SCROLL_FRAME, report_every=1.0
        )
        return budget, last

    budget, last = scroll()
    assert budget.controller.pacing_rate(0.0) is None
    assert len(last) >= 29
    monkeypatch.setattr(StartRate, "probed", lambda self, delivered, waited: None)
    budget, last = scroll()
    assert budget.controller.pacing_rate(0.0) == START_BITRATE
    assert len(last) < 20


def test_the_start_rate_probe() -> None:
    start = StartRate(2_000_000, ceiling=10_000_000)
    start.probed(1_700_000, 0.0)  # under 0.9x: the link did not carry it
    assert start.rate == 2_000_000
    start.probed(2_000_000, 0.2)  # carried, but a packet waited: a queue builds
    assert start.rate == 2_000_000
    start.probed(1_900_000, 0.01)
    assert start.rate == 4_000_000
    start.probed(6_000_000, 0.0)
    assert start.rate is None  # past the ceiling: unpaced


def test_a_round_trip_of_a_sender_report_sent_before_the_queue_drained_does_not_cut_again() -> None:
    """The first cut came from the packets on their way; the queue the burst built drains for
    a second. Round trips 0.5 s over their minimum then arrive, of sender reports sent before
    the cut, or after it but before a report showed every packet sent before the cut arrived:
    they waited behind the old rate's packets, and the rate holds. A round trip as long of a
    report sent after that is the new rate's own queue: that one cuts (in bench runs the first
    kind halved the rate a second time, 473 -> 616 ms and 327 -> 190 ms)."""
    clock = Clock()
    budget = SendBudget(clock=clock, start_rate=None)
    sent, highest, _ = _typing_then_a_burst(budget, clock)
    first = budget.rate
    cut_at = clock.now
    assert first is not None

    def frames(seconds: float) -> None:
        nonlocal sent
        for _ in range(int(seconds * 30)):
            if budget.delay() == 0.0:
                budget.spent(12_900, None)
                sent += BURST_FRAME_PACKETS
            clock.now += 1 / 30

    def report(arrived_short_of: int, rtt: float | None = None, sent_at: float | None = None) -> None:
        nonlocal highest
        highest = max(highest, sent - 4_000 - arrived_short_of)
        age = None if sent_at is None else clock.now - sent_at
        budget.report(
            ReceiverReport(
                0.0, 0, highest, 0.002, rtt=rtt, packet_bytes=PACKET_PAYLOAD, packets_sent=sent, rtt_age=age
            )
        )
        clock.now += 0.01

    def two_round_trips(sent_at: float) -> None:
        for rtt in (0.08 + 0.5, 0.08 + 0.55):  # two sender reports' samples in a row
            report(20, rtt, sent_at)

    frames(0.5)
    report(400)  # the burst's packets still on their way
    frames(0.5)
    report(20)  # all but the last few arrived: the cut's queue drained
    drained_at = clock.now
    frames(0.3)
    two_round_trips(sent_at=cut_at - 0.1)  # sent before the cut
    assert budget.rate == first
    two_round_trips(sent_at=drained_at - 0.3)  # after the cut, before the queue drained
    assert budget.rate == first
    frames(0.5)
    two_round_trips(sent_at=drained_at + 0.1)  # the new rate's queue
    assert budget.rate is not None and budget.rate < first


def test_the_probe_is_not_fooled_by_a_keyframe_on_its_way_at_the_first_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The session's first report comes while its first keyframe (60 KB, 0.24 s on the 2 Mbit/s
    link) is still on its way: the smallest difference between our packet count and the
    receiver's is taken with ~40 packets in flight, so the packets on their way are undercounted
    for the whole window. A scroll at once: the start rate must still not grow (a bench run's
    busy-period probe read 2.95 Mbit/s there and doubled it into the queue)."""
    seen = _start_rates(monkeypatch)
    clock = Clock()
    budget = SendBudget(clock=clock)
    link = Link()
    budget.spent(60_000, None)
    link.send(clock.now, 60_000)
    _simulate(budget, clock, link, 2, scrolling=True, frame_bytes=SCALED_SCROLL_FRAME)
    assert seen and all(rate == START_BITRATE for rate in seen)


def test_the_rate_grows_back_to_under_the_links_rate_after_a_cut_and_past_it_later() -> None:
    """The link filled at 2 Mbit/s; after the cut, reports show no queue and captures wait:
    for the ten seconds after the cut the rate grows to 0.85x of it and stays (a scroll frame
    takes 60-100 ms on that link: a rate back at the link's kept a queue standing in bench
    runs), then probes on additively."""
    budget, clock, receiver = _streaming()
    _second(budget, clock, 2_000_000)
    budget.report(receiver.report(200, lost=60))  # 30 %: cut
    cut_at = clock.now
    budget.controller.congested_rate = 2_000_000
    rates = []
    while clock.now < cut_at + 12:
        rate = budget.rate
        assert rate is not None
        _second(budget, clock, rate)
        budget.spent(50_000, None)  # the content wants more: held back
        budget.delay()
        budget.report(receiver.report(_packets(rate)))
        rates.append((clock.now - cut_at, budget.rate))
    within = [rate for at, rate in rates if at < 10 and rate is not None]
    assert max(within) == pytest.approx(0.85 * 2_000_000)
    assert rates[-1][1] is not None and rates[-1][1] > 0.85 * 2_000_000


def test_a_round_trip_behind_a_remb_cuts_queue_does_not_cut_again() -> None:
    """REMB fell during a burst (round trips fresh): cut. A second later, before the packets
    sent before that cut have arrived, round trips 0.5 s over their minimum come, of sender
    reports sent after the cut but waiting behind its queue: they hold the rate, as after a
    delay cut (a bench run: "REMB fell" to 1.6 Mbit/s, then one such round trip cut to 0.8)."""
    clock = Clock()
    budget = SendBudget(clock=clock, start_rate=None)
    sent, highest = 5_000, 1_000

    def report(arrived: int, rtt: float | None = 0.08, sent_at: float | None = None) -> None:
        nonlocal highest
        highest += arrived
        age = None if sent_at is None else clock.now - sent_at
        budget.report(
            ReceiverReport(
                0.0, 0, highest, 0.002, rtt=rtt, packet_bytes=PACKET_PAYLOAD, packets_sent=sent, rtt_age=age
            )
        )

    report(0)
    for _ in range(3):  # typing, a report and a round trip each second
        for _ in range(8):
            budget.spent(400, 500_000)
            sent += 1
            clock.now += 1 / 8
        report(8)
    for remb in [3_000_000] * 29 + [1_500_000]:  # a second of a 3.1 Mbit/s scroll, then REMB falls
        budget.spent(12_900, remb)
        sent += BURST_FRAME_PACKETS
        clock.now += 1 / 30
    first = budget.rate
    assert first is not None  # the REMB cut
    cut_at = clock.now
    for _ in range(30):
        if budget.delay() == 0.0:
            budget.spent(12_900, None)
            sent += BURST_FRAME_PACKETS
        clock.now += 1 / 30
    behind = sent - 4_000 - highest - 300  # 300 packets, some sent before the cut, still queued
    for rtt in (0.08 + 0.5, 0.08 + 0.55):
        report(behind, rtt=rtt, sent_at=cut_at + 0.1)
        behind = 0
        clock.now += 0.01
    assert budget.rate == first


def _busy_rate_by_scan(
    now: float,
    frames: list[tuple[float, int]],
    in_flight: int,
    rtt_min: float,
    packet_bytes: float,
    overhead_bytes: float,
    counts: list[tuple[float, int]],
) -> float | None:
    """:func:`busy_rate` as it was written first: each frame scans every report."""
    if not packet_bytes > 0 or len(counts) < 2:
        return None
    total, sent_since, best = counts[-1][1], 0, None
    waiting = max(0, in_flight) * packet_bytes
    for at, nbytes in reversed(frames):
        sent_since += nbytes
        elapsed = now - at - rtt_min
        if elapsed < BUSY_MIN_SECONDS:
            continue
        before = [count for arrived, count in counts[:-1] if arrived <= at + rtt_min]
        if not before:
            break
        received = min(sent_since - waiting, (total - before[-1]) * packet_bytes)
        if received <= 0:
            continue
        rate = received * 8 * (packet_bytes + overhead_bytes) / packet_bytes / elapsed
        best = rate if best is None or rate > best else best
    return best


@settings(max_examples=200, deadline=None)
@given(
    frame_gaps=st.lists(st.floats(0.001, 0.2), min_size=1, max_size=60),
    frame_bytes=st.lists(st.integers(100, 30_000), min_size=60, max_size=60),
    report_gaps=st.lists(st.floats(0.005, 1.0), min_size=2, max_size=20),
    report_counts=st.lists(st.integers(0, 400), min_size=20, max_size=20),
    in_flight=st.integers(0, 50),
    rtt_min=st.floats(0.0, 0.3),
)
def test_busy_rate_by_bisection_is_the_scan_it_replaced(
    frame_gaps: list[float],
    frame_bytes: list[int],
    report_gaps: list[float],
    report_counts: list[int],
    in_flight: int,
    rtt_min: float,
) -> None:
    """Each frame finds the last report before it by bisection (a console sending a report every
    5 ms made the scan cost a core); the rate is the same as the scan's for any history."""
    frames, at = [], 0.0
    for gap, nbytes in zip(frame_gaps, frame_bytes, strict=False):
        at += gap
        frames.append((at, nbytes))
    counts, arrived, total = [], 0.0, 0
    for gap, got in zip(report_gaps, report_counts, strict=False):
        arrived += gap
        total += got
        counts.append((arrived, total))
    now = max(at, arrived) + 0.01
    args = (now, frames, in_flight, rtt_min, 1_100.0, 40.0, counts)
    assert busy_rate(*args) == _busy_rate_by_scan(*args)


def test_reports_without_round_trips_end_the_start_rate() -> None:
    """A receiver that never echoes our sender reports (no round trip, no REMB) gives the probe
    nothing to judge: the start rate ends after a few reports instead of pacing the whole
    session to 2.5 Mbit/s on a link that carries more (review: 60 s later, still paced)."""
    from veo.agent.rate_control import START_WITHOUT_RTT_SECONDS

    assert START_WITHOUT_RTT_SECONDS < 12
    from veo.agent.receiver_report import ReceiverReport

    clock = [0.0]
    budget = SendBudget(clock=lambda: clock[0])
    for step in range(30 * 12):  # 25-KB frames at 30 fps, a report a second
        clock[0] += 1 / 30
        if budget.delay() == 0:
            budget.spent(25_000, None)
        if step % 30 == 29:
            n = budget.controller._packets_since + (budget.controller._packets_sent or 0)
            budget.report(
                ReceiverReport(
                    fraction_lost=0.0,
                    packets_lost=0,
                    highest_sequence=1000 + n,
                    jitter=0.001,
                    rtt=None,
                    packet_bytes=1100.0,
                    packets_sent=n,
                )
            )
    assert budget.controller.start.rate is None
    assert budget.controller.pacing_rate(clock[0]) is None
