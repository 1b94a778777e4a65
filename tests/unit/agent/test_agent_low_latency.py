"""The H.264 encoder really runs libx264 at preset ultrafast (x264 writes its settings in an SEI)."""

from __future__ import annotations

import fractions
from typing import Any

import aiortc.rtcrtpsender as rtcrtpsender
import av
from aiortc.codecs.h264 import H264Encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from veo.agent import low_latency


def _first_payload(encoder: H264Encoder) -> bytes:
    frame = av.VideoFrame(320, 240, "yuv420p")
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, 90000)
    payloads, _ = encoder.encode(frame, force_keyframe=True)
    return b"".join(payloads)


def test_ultrafast_and_zerolatency() -> None:
    data = _first_payload(low_latency.ScreenH264Encoder())
    assert b"subme=0" in data  # ultrafast; medium would say subme=7
    assert b"sliced_threads=1" in data and b"bframes=0" in data  # zerolatency kept


def test_stock_encoder_differs() -> None:
    assert b"subme=0" not in _first_payload(H264Encoder())


def test_install_swaps_only_h264() -> None:
    low_latency.install()
    h264 = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102)
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    assert isinstance(rtcrtpsender.get_encoder(h264), low_latency.ScreenH264Encoder)
    assert not isinstance(rtcrtpsender.get_encoder(vp8), H264Encoder)


def test_remb_target_is_applied_without_a_new_encoder() -> None:
    encoder = low_latency.ScreenH264Encoder()
    _first_payload(encoder)
    opened = encoder.codec
    encoder.target_bitrate = 3_000_000  # what aiortc's sender does with a REMB
    frame = av.VideoFrame(320, 240, "yuv420p")
    frame.pts = 3000
    frame.time_base = fractions.Fraction(1, 90000)
    encoder.encode(frame)
    assert encoder.codec is opened and opened.bit_rate == 3_000_000 and encoder.reconfigurations == 1
    encoder.target_bitrate = 10**9
    assert encoder.target_bitrate == low_latency.MAX_BITRATE


def test_keyframe_request_reaches_the_track() -> None:
    low_latency.install()

    class Track:
        asked = 0

        def keyframe_requested(self) -> None:
            self.asked += 1

    class Sender:
        track = Track()

    sender: Any = Sender()
    rtcrtpsender.RTCRtpSender._send_keyframe(sender)
    assert sender.track.asked == 1
    assert sender._RTCRtpSender__force_keyframe is True  # aiortc's own flag is still set


def test_quantizer_floor_reaches_x264() -> None:
    data = _first_payload(low_latency.ScreenH264Encoder())
    assert f"qpmin={low_latency.QP_MIN}".encode() in data  # x264's settings SEI


def test_rate_control_budgets_per_frame_at_the_pacers_cap() -> None:
    """x264 with zerolatency divides the bitrate by a fixed fps: it must be the pacer's cap, or a
    60-fps scroll at 720p spends twice the congestion controller's target."""
    assert low_latency.rate_control_fps(1280, 720) == 60
    assert low_latency.rate_control_fps(1920, 1080) == 30
    encoder = low_latency.ScreenH264Encoder()
    _first_payload(encoder)
    assert encoder.codec is not None
    assert encoder.codec.framerate == low_latency.rate_control_fps(320, 240)
