"""The H.264 encoder really runs libx264 at preset ultrafast (x264 writes its settings in an SEI)."""

from __future__ import annotations

import fractions
from typing import Any

import aiortc.rtcrtpsender as rtcrtpsender
import av
import numpy as np
import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from veo.agent import low_latency
from veo.agent import vp8 as vp8_module
from veo.agent.frame_note import FrameNote
from veo.agent.pacing import SendBudget
from veo.agent.vp8 import ScreenVp8Encoder


def _first_payload(encoder: H264Encoder) -> bytes:
    frame = av.VideoFrame(320, 240, "yuv420p")
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, 90000)
    payloads, _ = encoder.encode(frame, force_keyframe=True)
    return b"".join(payloads)


def test_ultrafast_and_zerolatency() -> None:
    data = _first_payload(low_latency.ScreenH264Encoder())
    assert b"subme=0" in data  # ultrafast; medium would say subme=7
    assert b"bframes=0" in data and b"rc_lookahead=0" in data  # zerolatency kept
    assert b" threads=2 " in data and b"sliced_threads=1" in data  # not x264's automatic 3 on 2 cores


def test_stock_encoder_differs() -> None:
    assert b"subme=0" not in _first_payload(H264Encoder())


def test_install_swaps_h264_and_vp8() -> None:
    low_latency.install()
    h264 = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102)
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    get_encoder = rtcrtpsender.get_encoder  # type: ignore[attr-defined]  # the hook install() replaces
    assert isinstance(get_encoder(h264), low_latency.ScreenH264Encoder)
    assert isinstance(get_encoder(vp8), ScreenVp8Encoder)


def test_remb_target_is_reported_to_the_budget_and_never_reopens_the_encoder() -> None:
    encoder = low_latency.ScreenH264Encoder()
    budget = SendBudget()
    frame = av.VideoFrame(320, 240, "yuv420p")
    frame.opaque = FrameNote(budget)  # what ScreenTrack does with every frame
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, 90000)
    payloads, _ = encoder.encode(frame, force_keyframe=True)
    opened = encoder.codec
    # the encoded size reached it (RTP payloads lack the bitstream's start codes)
    assert budget.sent_rate() == pytest.approx(8 * len(b"".join(payloads)), rel=0.05)
    encoder.target_bitrate = 300_000  # what aiortc's sender does with a REMB
    frame.pts = 3000
    encoder.encode(frame)
    assert encoder.codec is opened  # no new encoder, so no keyframe
    encoder.target_bitrate = 10**9
    assert encoder.target_bitrate == low_latency.MAX_BITRATE


def test_a_still_frame_is_refined_once_then_costs_almost_nothing() -> None:
    """Constant quality: repeats of an unchanged picture shrink to a few dozen bytes (the idle
    stream), where average-bitrate control kept spending its budget on them."""
    encoder = low_latency.ScreenH264Encoder()
    rows, cols = np.indices((240, 320))
    desktop = np.stack([(rows * 3) % 256, (cols * 5) % 256, ((rows // 8 + cols // 8) % 2) * 255], axis=-1)
    frame = av.VideoFrame.from_ndarray(desktop.astype(np.uint8), format="rgb24")
    frame = frame.reformat(format="yuv420p")
    frame.time_base = fractions.Fraction(1, 90000)
    sizes = []
    for index in range(6):
        frame.pts = index * 180_000
        payloads, _ = encoder.encode(frame, force_keyframe=index == 0)
        sizes.append(len(b"".join(payloads)))
    assert sizes[0] > 2_000 and max(sizes[-3:]) < 100, sizes


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


def test_constant_quality_and_peak_cap_reach_x264() -> None:
    data = _first_payload(low_latency.ScreenH264Encoder())  # x264's settings SEI
    assert (
        f"rc=crf mbtree=0 crf={low_latency.QUALITY}.0 qcomp={low_latency.QUANTIZER_CURVE:.2f}".encode()
        in data
    )
    assert f"vbv_maxrate={low_latency.PEAK_BITRATE // 1000}".encode() in data
    assert f"vbv_bufsize={low_latency.PEAK_BUFFER_BITS // 1000}".encode() in data
    assert f"chroma_qp_offset={low_latency.CHROMA_QP_OFFSET}".encode() in data


def test_rate_control_budgets_per_frame_at_the_pacers_cap() -> None:
    """x264 with zerolatency fills its VBV per frame at a fixed fps: it must be the pacer's cap,
    or a 60-fps scroll at 720p may burst twice the peak rate."""
    assert low_latency.rate_control_fps(1280, 720) == 60
    assert low_latency.rate_control_fps(1920, 1080) == 60  # the adaptive pacer's highest cap
    encoder = low_latency.ScreenH264Encoder()
    _first_payload(encoder)
    assert encoder.codec is not None
    assert encoder.codec.framerate == low_latency.rate_control_fps(320, 240)


def _vp8_keyframe(payloads: list[bytes]) -> bool:
    """RFC 7741: after the payload descriptor (4 bytes with a 15-bit picture id), bit 0 of the
    VP8 frame tag is 0 for a key frame."""
    return payloads[0][4] & 1 == 0


def test_vp8_screen_encoder_keyframes_only_when_asked_and_reports_to_the_budget() -> None:
    """The canvas frame is the same object every time: a keyframe asked once must not make every
    later frame a keyframe (aiortc's VP8 encoder sets the picture type and never resets it)."""
    encoder = ScreenVp8Encoder()
    budget = SendBudget()
    frame = av.VideoFrame(320, 240, "yuv420p")
    frame.opaque = FrameNote(budget)
    frame.time_base = fractions.Fraction(1, 90000)
    kinds = []
    for index, force in enumerate((True, False, False, True, False)):
        frame.pts = index * 3000
        payloads, _ = encoder.encode(frame, force_keyframe=force)
        kinds.append(_vp8_keyframe(payloads))
    assert kinds == [True, False, False, True, False]
    assert budget.sent_rate() > 0
    assert 0 < budget.last_bytes < 1_500  # the last repeat of a still frame: sharp already


def test_vp8_screen_encoder_is_never_reopened_for_a_congestion_target() -> None:
    encoder = ScreenVp8Encoder()
    frame = av.VideoFrame(320, 240, "yuv420p")
    frame.time_base = fractions.Fraction(1, 90000)
    frame.pts = 0
    encoder.encode(frame, force_keyframe=True)
    opened = encoder.codec
    encoder.target_bitrate = 300_000  # what aiortc's sender does with a REMB
    frame.pts = 3000
    payloads, _ = encoder.encode(frame)
    assert encoder.codec is opened and not _vp8_keyframe(payloads)
    assert encoder.estimate == 300_000


def test_vp8_screen_encoder_settings_reach_libvpx() -> None:
    """No denoiser, one thread, constant quality (the costs measured in docs/performance.md): the
    codec takes every option (PyAV keeps only those the codec did not know after opening it)."""
    encoder = ScreenVp8Encoder()
    frame = av.VideoFrame(320, 240, "yuv420p")
    frame.time_base = fractions.Fraction(1, 90000)
    frame.pts = 0
    encoder.encode(frame, force_keyframe=True)
    codec = encoder.codec
    assert codec is not None and codec.thread_count == 1
    assert codec.options == {}
    asked = encoder._open(frame).options  # the same settings, before opening
    assert asked["noise-sensitivity"] == "0" and asked["crf"] == str(vp8_module.QUALITY)
    assert asked["deadline"] == "realtime"
