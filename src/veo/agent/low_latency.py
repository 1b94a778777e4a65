"""libx264 tuned for a remote screen, plugged into aiortc's sender.

aiortc's H.264 encoder is written for camera video: x264 at preset ``medium`` (2-3x the CPU of
``ultrafast`` for screen content, ``field-notes.md`` note 5), average-bitrate control at a fixed
30 fps time base, and a brand new encoder (with a keyframe) whenever the congestion controller
moves its target by more than 10 %. :class:`ScreenH264Encoder` changes exactly that:

- ``preset=ultrafast`` + ``tune=zerolatency`` (no lookahead, no B-frames, sliced threads);
- a quantizer floor (:data:`QP_MIN`): small updates are not encoded near-lossless just because
  the bitrate budget would allow it;
- **adaptive bitrate without keyframes**: the target follows the receiver's REMB estimate
  (aiortc's sender sets ``target_bitrate``) within :data:`MIN_BITRATE` .. :data:`MAX_BITRATE`,
  and is applied to the open encoder (libx264 reconfigures its rate control between frames)
  instead of opening a new encoder with a keyframe on every 10 % wobble as aiortc does;
- a 1/90000 time base (frames are sent only when the screen changed, so their timestamps are
  irregular) and the rate control's frame rate set to the pacer's cap for the picture size
  (:func:`rate_control_fps`): with ``zerolatency`` x264 budgets per frame, not per second;
- a coarsest quantizer of :data:`QP_MAX` instead of FFmpeg's 31, so the rate control can meet a
  low target on detailed content;
- keyframes only when asked (session start, size change, the browser's PLI/FIR): no periodic
  keyframe bursts on an idle screen; a PLI/FIR also asks the track for a frame at once
  (``keyframe_requested``), so a broken picture is repaired without waiting for a change.

:func:`install` makes aiortc's sender create this encoder for H.264; VP8 is left to aiortc.
"""

from __future__ import annotations

import fractions
import logging
from collections.abc import Iterator
from typing import Any

import aiortc.rtcrtpsender as rtcrtpsender
import av
from aiortc.codecs import get_encoder as aiortc_get_encoder
from aiortc.codecs.h264 import H264Encoder

from veo.agent.capture.base import Size
from veo.agent.encoder import SETTINGS
from veo.agent.pacing import auto_max_fps

log = logging.getLogger(__name__)

PRESET = "ultrafast"
MIN_BITRATE = 200_000
MAX_BITRATE = 6_000_000
START_BITRATE = 1_000_000
#: the finest quantizer x264 may use: with a budget far above what a typed letter needs, average
#: bitrate control otherwise spends it on near-lossless patches (typing: 49 -> 28 kbit/s at 1080p)
QP_MIN = 22
#: the coarsest quantizer: FFmpeg caps x264 at 31 unless told, which leaves the rate control no
#: room to keep a burst of detailed content (a fast scroll) within a low target
QP_MAX = 45
TIME_BASE = fractions.Fraction(1, 90_000)


def rate_control_fps(width: int, height: int) -> int:
    """The frame rate x264's rate control divides the bitrate by: the pacer's cap for this size.

    ``tune=zerolatency`` turns off x264's variable-frame-rate rate control, so it budgets
    ``bitrate / fps`` per frame whatever the timestamps say. A fixed 30 there, with the pacer
    sending up to 60 fps at 720p, doubled the bitrate: 720p scrolling sent ~2x its REMB target
    and filled the *poor* link's queue. Fewer frames (an idle or typing screen) only spend less.
    """
    return round(SETTINGS.max_fps or auto_max_fps(Size(width, height)))


class ScreenH264Encoder(H264Encoder):  # type: ignore[misc]
    """aiortc's H.264 packetizer with a libx264 context set up for screen content (see module)."""

    def __init__(self) -> None:
        super().__init__()
        self._target = START_BITRATE
        self._logged = START_BITRATE
        self.reconfigurations = 0

    @property
    def target_bitrate(self) -> int:
        """The bitrate target in bit/s (aiortc's sender sets it from the receiver's REMB)."""
        return self._target

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self._target = max(MIN_BITRATE, min(int(bitrate), MAX_BITRATE))

    def _open(self, frame: av.VideoFrame) -> Any:
        codec = av.CodecContext.create("libx264", "w")
        codec.width = frame.width
        codec.height = frame.height
        codec.pix_fmt = "yuv420p"
        codec.time_base = TIME_BASE
        codec.framerate = fractions.Fraction(rate_control_fps(frame.width, frame.height), 1)
        codec.bit_rate = self._target
        codec.qmin = QP_MIN
        codec.qmax = QP_MAX
        codec.options = {
            "preset": PRESET,
            "tune": "zerolatency",
            "level": "4.1" if frame.width * frame.height > 1280 * 720 else "3.1",
            "keyint": "infinite",
            "scenecut": "0",
        }
        codec.profile = "Baseline"
        return codec

    def _encode_frame(self, frame: av.VideoFrame, force_keyframe: bool) -> Iterator[bytes]:
        codec = self.codec
        if codec is not None and (frame.width != codec.width or frame.height != codec.height):
            codec = None
        if codec is None:
            self.buffer_data = b""
            self.buffer_pts = None
            codec = self.codec = self._open(frame)
        elif codec.bit_rate != self._target:
            codec.bit_rate = self._target  # libx264 reconfigures before this frame: no keyframe
            self.reconfigurations += 1
            if not 0.8 < self._target / self._logged < 1.25:  # say when it really moved
                log.info("encoder target bitrate=%d", self._target)
                self._logged = self._target
        frame.pict_type = av.video.frame.PictureType.I if force_keyframe else av.video.frame.PictureType.NONE
        data = b"".join(bytes(packet) for packet in codec.encode(frame))
        if data:
            yield from self._split_bitstream(data)


def _get_encoder(codec: Any) -> Any:
    if str(codec.mimeType).lower() == "video/h264":
        return ScreenH264Encoder()
    return aiortc_get_encoder(codec)


_stock_send_keyframe = rtcrtpsender.RTCRtpSender._send_keyframe


def _send_keyframe(sender: Any) -> None:
    """aiortc's keyframe request (PLI/FIR from the browser), and the track told to send a frame now.

    aiortc only marks the NEXT frame as a keyframe; a screen track that sends nothing while the
    screen is unchanged would leave the browser's picture broken until the next change or
    keep-alive. A track with ``keyframe_requested`` produces that frame at once.
    """
    _stock_send_keyframe(sender)
    request = getattr(sender.track, "keyframe_requested", None)
    if request is not None:
        request()


def install() -> None:
    """Make every aiortc sender in this process use :class:`ScreenH264Encoder` and tell its track
    about keyframe requests (idempotent)."""
    rtcrtpsender.get_encoder = _get_encoder  # type: ignore[attr-defined]  # the hook aiortc lacks
    rtcrtpsender.RTCRtpSender._send_keyframe = _send_keyframe  # type: ignore[method-assign,assignment]
