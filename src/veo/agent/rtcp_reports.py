"""The receiver's RTCP reports, passed from aiortc's sender to the track's congestion controller.

What aiortc 1.16 lacks: ``RTCRtpSender._handle_rtcp_packet`` reads each receiver report block
about its SSRC only into ``getStats()`` (``remote-inbound-rtp``) and keeps its round-trip time in
a private, smoothed attribute (``__rtt``, 0.85 of the old value per report: seconds to follow a
queue); nothing reaches the encoder but REMB. And its round-trip time is often wrong or missing
for a screen: it remembers only the *last* sender report it sent, so a receiver report about an
earlier one (every report while a queue holds the sender reports back for more than their
0.5-1.5 s spacing: exactly when it matters) gives no sample; and a sender report's NTP time is
that of the last RTP packet, so on a still screen consecutive ones carry the same LSR and a
report about the earlier one is matched with the later one (a round trip too short, or negative).

This module adds the smallest extension that fixes both, as two wrappers that
:func:`install` puts on ``RTCRtpSender`` (called by ``low_latency.install``):

- ``_send_rtcp(packets)`` (aiortc sends every sender report through it, from ``_run_rtcp``):
  before sending, notes for each of our sender reports its LSR (the middle 32 bits of its
  ``sender_info.ntp_timestamp``), the time it left and the payload bytes per packet sent so far
  (``octet_count / packet_count``: the delivered rate is counted in packets);
- ``_handle_rtcp_packet(packet)``: after aiortc's own handling (NACK, PLI, REMB, stats), each
  report block of an RR or SR whose ``ssrc`` is the sender's ``_ssrc`` becomes a
  :class:`~veo.agent.congestion.ReceiverReport` (fraction 0-255 -> 0-1, jitter in 90-kHz units
  -> seconds, round trip = arrival - sent(LSR) - DLSR / 65536, only for an LSR sent once)
  handed to ``sender.track.budget.report`` when the track has a budget
  (:class:`~veo.agent.congestion.SendBudget`), with the count of RTP packets the sender had sent
  by then (aiortc's private ``__packet_count``): with the report's highest sequence number it
  says how many packets are still on their way, with every report (Chrome sends one with each
  NACK: every few tens of milliseconds while a queue overflows), where a round trip comes only
  once per sender report, itself delayed by the queue it should measure.

It relies on these private names of aiortc's ``RTCRtpSender``: the coroutine methods
``_handle_rtcp_packet(self, packet)`` and ``_send_rtcp(self, packets)``, the attributes ``_ssrc``
and ``__packet_count`` (mangled ``_RTCRtpSender__packet_count``, one per RTP packet sent, not
counting retransmissions),
and that ``_run_rtcp`` sends its ``RtcpSrPacket`` through ``_send_rtcp``; and on the public
``aiortc.rtp`` packet classes (``RtcpRrPacket``, ``RtcpSrPacket``, ``RtcpReceiverInfo``).
``tests/unit/agent/test_agent_rtcp_reports.py`` drives a real ``RTCRtpSender`` through both and
fails if any of that moves.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiortc.rtcrtpsender as rtcrtpsender
from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket, RtcpSrPacket

from veo.agent.congestion import ReceiverReport

log = logging.getLogger(__name__)

#: the RTP clock of video (jitter is reported in its units)
VIDEO_CLOCK = 90_000
#: how many of our recent sender reports are remembered (one every 0.5-1.5 s)
REMEMBERED_REPORTS = 16
#: a round trip this far below zero is a mismatch, not rounding (DLSR is in 1/65536 s)
RTT_TOLERANCE = 0.005
#: aiortc's private count of RTP packets the sender sent (``RTCRtpSender.__packet_count``)
PACKET_COUNT = "_RTCRtpSender__packet_count"
#: reports closer together than this are not passed on: a receiver sends one with each NACK and
#: at its RTCP interval (tens to hundreds a second at most), and a console that floods reports
#: (each may carry 31 blocks) must not make the controller's work or its windows grow with them
MIN_REPORT_INTERVAL = 0.005

_stock_handle_rtcp_packet: Callable[[Any, Any], Awaitable[None]] = (
    rtcrtpsender.RTCRtpSender._handle_rtcp_packet
)
_stock_send_rtcp: Callable[[Any, Any], Awaitable[None]] = rtcrtpsender.RTCRtpSender._send_rtcp


class SentReports:
    """Our recent sender reports by LSR: when each left, whether its LSR was sent more than once."""

    def __init__(self) -> None:
        self._sent: OrderedDict[int, tuple[float, int]] = OrderedDict()
        self._sampled: set[int] = set()
        self._counts = (0, 0)
        #: payload bytes per RTP packet between the last two sender reports (a scroll's packets
        #: are full, a keystroke's small: the average since the start would mix them), ``None``
        #: before any packet
        self.packet_bytes: float | None = None

    def sent(self, lsr: int, at: float, octets: int, packets: int) -> None:
        _, count = self._sent.pop(lsr, (0.0, 0))
        self._sent[lsr] = (at, count + 1)
        self._sampled.discard(lsr)
        while len(self._sent) > REMEMBERED_REPORTS:
            self._sampled.discard(self._sent.popitem(last=False)[0])
        new_octets, new_packets = octets - self._counts[0], packets - self._counts[1]
        if new_packets > 0 and new_octets >= 0:
            self.packet_bytes = new_octets / new_packets
        self._counts = (octets, packets)

    def age(self, lsr: int, arrived: float) -> float | None:
        """How long before ``arrived`` the sender report ``lsr`` was sent (``None``: unknown):
        a round trip says what the queue was when that report went out, which after a cut can
        be the old rate's queue (see ``CutQueue.before_drained``)."""
        at, count = self._sent.get(lsr, (0.0, 0))
        return arrived - at if count == 1 else None

    def rtt(self, lsr: int, dlsr: int, arrived: float) -> float | None:
        """The round trip of the sender report ``lsr``, or ``None`` when unknown, ambiguous or
        already given (a receiver reports more often than we send reports: one sample each)."""
        if lsr == 0 or lsr not in self._sent or lsr in self._sampled:
            return None
        at, count = self._sent[lsr]
        if count != 1:
            return None  # the same LSR went out more than once (a still screen): which one?
        rtt = arrived - at - dlsr / 65536
        if rtt < -RTT_TOLERANCE:
            return None
        self._sampled.add(lsr)
        return max(rtt, 0.0)


def lsr_of(ntp_timestamp: int) -> int:
    """The LSR a receiver echoes for a sender report with this 64-bit NTP time."""
    return (ntp_timestamp >> 16) & 0xFFFFFFFF


def to_report(
    block: RtcpReceiverInfo, sent: SentReports, arrived: float, packets_sent: int | None = None
) -> ReceiverReport:
    """One report block in plain units (values out of range are passed on for the controller
    to discard, except the fraction, whose byte cannot be)."""
    rtt = sent.rtt(block.lsr, block.dlsr, arrived)
    return ReceiverReport(
        fraction_lost=block.fraction_lost / 256,
        packets_lost=block.packets_lost,
        highest_sequence=block.highest_sequence,
        jitter=block.jitter / VIDEO_CLOCK,
        rtt=rtt,
        packet_bytes=sent.packet_bytes,
        packets_sent=packets_sent,
        rtt_age=sent.age(block.lsr, arrived) if rtt is not None else None,
    )


def _sent_reports(sender: Any) -> SentReports:
    reports = getattr(sender, "_veo_sent_reports", None)
    if not isinstance(reports, SentReports):
        reports = SentReports()
        sender._veo_sent_reports = reports
    return reports


async def _send_rtcp(sender: Any, packets: Any) -> None:
    """aiortc's RTCP send, noting when each of our sender reports left (see module)."""
    now = time.monotonic()
    for packet in packets:
        if isinstance(packet, RtcpSrPacket) and packet.ssrc == sender._ssrc:
            info = packet.sender_info
            _sent_reports(sender).sent(lsr_of(info.ntp_timestamp), now, info.octet_count, info.packet_count)
    await _stock_send_rtcp(sender, packets)


async def _handle_rtcp_packet(sender: Any, packet: Any) -> None:
    """aiortc's RTCP handling, then the report blocks about our stream to the track's budget."""
    await _stock_handle_rtcp_packet(sender, packet)
    if not isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
        return
    budget = getattr(getattr(sender, "track", None), "budget", None)
    report = getattr(budget, "report", None)
    if report is None:
        return
    now = time.monotonic()
    if now - getattr(sender, "_veo_last_report", -MIN_REPORT_INTERVAL) < MIN_REPORT_INTERVAL:
        return
    ours = [block for block in packet.reports if block.ssrc == sender._ssrc]
    if not ours:
        return
    sender._veo_last_report = now
    count = getattr(sender, PACKET_COUNT, None)
    packets_sent = count if isinstance(count, int) else None
    try:  # the last block only: a receiver sends one per stream; more are a forgery or a fault
        report(to_report(ours[-1], _sent_reports(sender), now, packets_sent))
    except Exception:  # raised here, it would end aiortc's DTLS task and with it the session
        log.exception("receiver report not used")


def install() -> None:
    """Put both wrappers on aiortc's ``RTCRtpSender`` (idempotent)."""
    rtcrtpsender.RTCRtpSender._send_rtcp = _send_rtcp  # type: ignore[method-assign,assignment]
    rtcrtpsender.RTCRtpSender._handle_rtcp_packet = _handle_rtcp_packet  # type: ignore[method-assign,assignment]
