"""The RTCP hook: a real aiortc sender hands the receiver's reports about our stream to the
track's budget, with a round trip from our own record of sender reports. These tests drive
aiortc's private methods on purpose: if aiortc renames or reshapes them, they fail here first."""

from __future__ import annotations

import inspect
import time
from typing import Any

import aiortc.rtcrtpsender as rtcrtpsender
import pytest
from aiortc import MediaStreamTrack
from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket, RtcpSenderInfo, RtcpSrPacket

from veo.agent import low_latency, rtcp_reports
from veo.agent.congestion import ReceiverReport


class Recorder:
    def __init__(self) -> None:
        self.reports: list[ReceiverReport] = []

    def report(self, report: ReceiverReport) -> None:
        self.reports.append(report)


class Track(MediaStreamTrack):  # type: ignore[misc]
    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.budget = Recorder()

    async def recv(self) -> Any:
        raise NotImplementedError


class Transport:
    """What RTCRtpSender reads of its DTLS transport in the paths driven here."""

    state = "connected"
    _stats_id = "transport"

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def _send_rtp(self, data: bytes) -> None:
        self.sent.append(data)

    def _get_stats(self) -> dict[str, Any]:
        return {}


def test_aiortc_still_has_what_the_hook_relies_on() -> None:
    sender_class = rtcrtpsender.RTCRtpSender
    for name, parameters in (
        ("_handle_rtcp_packet", ["self", "packet"]),
        ("_send_rtcp", ["self", "packets"]),
    ):
        stock = getattr(rtcp_reports, f"_stock{name}")
        assert inspect.iscoroutinefunction(stock), name
        assert list(inspect.signature(stock).parameters) == parameters, name
    # the sender reports go out through _send_rtcp, and the RTT is still aiortc's private figure
    source = inspect.getsource(sender_class)
    assert "await self._send_rtcp(packets)" in inspect.getsource(sender_class._run_rtcp)
    assert "self._ssrc = " in source
    assert "self.__packet_count += 1" in inspect.getsource(sender_class._run_rtp)
    assert {"fraction_lost", "packets_lost", "highest_sequence", "jitter", "lsr", "dlsr", "ssrc"} <= set(
        RtcpReceiverInfo.__dataclass_fields__
    )


def test_install_puts_both_wrappers_on_the_sender() -> None:
    low_latency.install()
    assert rtcrtpsender.RTCRtpSender._handle_rtcp_packet is rtcp_reports._handle_rtcp_packet
    assert rtcrtpsender.RTCRtpSender._send_rtcp is rtcp_reports._send_rtcp


async def test_a_real_sender_passes_its_reports_to_the_tracks_budget() -> None:
    rtcp_reports.install()
    track = Track()
    transport = Transport()
    sender: Any = rtcrtpsender.RTCRtpSender(track, transport)
    ntp = 0x1234_5678_9ABC_DEF0
    report = RtcpSrPacket(
        ssrc=sender._ssrc,
        sender_info=RtcpSenderInfo(ntp_timestamp=ntp, rtp_timestamp=0, packet_count=10, octet_count=12_000),
    )
    await sender._send_rtcp([report])
    assert transport.sent  # aiortc's own send still ran
    lsr = rtcp_reports.lsr_of(ntp)
    blocks = [
        RtcpReceiverInfo(
            ssrc=sender._ssrc,
            fraction_lost=64,
            packets_lost=3,
            highest_sequence=70_000,
            jitter=900,
            lsr=lsr,
            dlsr=0,
        ),
        RtcpReceiverInfo(
            ssrc=sender._ssrc ^ 1,
            fraction_lost=0,
            packets_lost=0,
            highest_sequence=1,
            jitter=0,
            lsr=0,
            dlsr=0,
        ),
    ]
    await sender._handle_rtcp_packet(RtcpRrPacket(ssrc=1234, reports=blocks))
    assert len(track.budget.reports) == 1  # only the block about our SSRC
    got = track.budget.reports[0]
    assert got.fraction_lost == 0.25
    assert got.packets_lost == 3 and got.highest_sequence == 70_000
    assert got.jitter == pytest.approx(0.01)
    assert got.packet_bytes == 1_200
    assert got.rtt is not None and 0.0 <= got.rtt < 1.0
    assert got.packets_sent == 0  # aiortc's own count (no RTP packet sent in this test)
    stats = await sender.getStats()  # aiortc's own handling still ran (remote-inbound-rtp)
    assert any(stat.type == "remote-inbound-rtp" for stat in stats.values())


async def test_a_sender_without_a_budget_is_left_alone() -> None:
    rtcp_reports.install()
    sender: Any = rtcrtpsender.RTCRtpSender("video", Transport())
    block = RtcpReceiverInfo(
        ssrc=sender._ssrc, fraction_lost=0, packets_lost=0, highest_sequence=1, jitter=0, lsr=0, dlsr=0
    )
    await sender._handle_rtcp_packet(RtcpRrPacket(ssrc=1, reports=[block]))


def test_round_trip_from_our_own_record() -> None:
    sent = rtcp_reports.SentReports()
    sent.sent(lsr=111, at=10.0, octets=0, packets=0)
    assert sent.packet_bytes is None
    # arrived 10.5 s, the receiver held it 0.25 s (DLSR in 1/65536 s): 0.25 s round trip
    assert sent.rtt(111, dlsr=65536 // 4, arrived=10.5) == pytest.approx(0.25)
    assert sent.rtt(0, dlsr=0, arrived=10.5) is None  # no sender report received yet
    assert sent.rtt(222, dlsr=0, arrived=10.5) is None  # not one of ours (or forgotten)
    assert sent.rtt(111, dlsr=65536, arrived=10.5) is None  # negative: a mismatch
    sent.sent(lsr=111, at=11.0, octets=12_000, packets=10)  # a still screen: the same LSR again
    assert sent.rtt(111, dlsr=0, arrived=11.2) is None  # which of the two? no sample
    assert sent.packet_bytes == 1_200
    for lsr in range(1_000, 1_000 + rtcp_reports.REMEMBERED_REPORTS):
        sent.sent(lsr=lsr, at=12.0, octets=0, packets=0)
    assert sent.rtt(111, dlsr=0, arrived=12.1) is None  # forgotten
    assert sent.rtt(1_000, dlsr=0, arrived=12.1) == pytest.approx(0.1)


def test_a_round_trip_says_when_its_sender_report_went_out() -> None:
    """The controller ignores a round trip of a sender report sent before its last cut: the
    report carries how long before its arrival that sender report was sent."""
    sent = rtcp_reports.SentReports()
    sent.sent(lsr=111, at=10.0, octets=0, packets=0)
    block = RtcpReceiverInfo(
        ssrc=1, fraction_lost=0, packets_lost=0, highest_sequence=1, jitter=0, lsr=111, dlsr=65536 // 2
    )
    report = rtcp_reports.to_report(block, sent, arrived=11.2)
    assert report.rtt == pytest.approx(0.7) and report.rtt_age == pytest.approx(1.2)
    again = rtcp_reports.to_report(block, sent, arrived=11.3)  # one sample per sender report
    assert again.rtt is None and again.rtt_age is None


def _block(sender: Any, lost: int = 0) -> RtcpReceiverInfo:
    return RtcpReceiverInfo(
        ssrc=sender._ssrc, fraction_lost=lost, packets_lost=0, highest_sequence=1, jitter=0, lsr=0, dlsr=0
    )


async def test_a_flood_of_reports_reaches_the_budget_a_bounded_number_of_times() -> None:
    """A console that sends report after report (each with 31 blocks naming our stream) must not
    make the controller's work and windows grow with them (security review of issue 18, F1)."""
    rtcp_reports.install()
    track = Track()
    sender: Any = rtcrtpsender.RTCRtpSender(track, Transport())
    started = time.monotonic()
    for _ in range(2_000):
        await sender._handle_rtcp_packet(RtcpRrPacket(ssrc=1, reports=[_block(sender)] * 31))
    elapsed = time.monotonic() - started
    # one block per report at most, and reports closer than MIN_REPORT_INTERVAL are skipped
    # (before: all 62,000 blocks went in), however fast or slow this machine ran the loop
    passed = len(track.budget.reports)
    assert 1 <= passed <= elapsed / rtcp_reports.MIN_REPORT_INTERVAL + 1


class Failing(Track):
    def __init__(self) -> None:
        super().__init__()
        self.budget = self

    def report(self, report: ReceiverReport) -> None:
        raise ZeroDivisionError("a fault in the controller")


async def test_a_fault_in_the_controller_does_not_escape_into_aiortc(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Raised there, it would end aiortc's DTLS task and with it the session (review F2)."""
    rtcp_reports.install()
    sender: Any = rtcrtpsender.RTCRtpSender(Failing(), Transport())
    await sender._handle_rtcp_packet(RtcpRrPacket(ssrc=1, reports=[_block(sender)]))
    assert "receiver report not used" in caplog.text
