"""libx264 tuned for a remote screen, plugged into aiortc's sender.

aiortc's H.264 encoder is written for camera video: x264 at preset ``medium`` (2-3x the CPU of
``ultrafast`` for screen content, ``field-notes.md`` note 5), average-bitrate control at a fixed
30 fps time base, and a brand new encoder (with a keyframe) whenever the congestion controller
moves its target by more than 10 %. :class:`ScreenH264Encoder` changes exactly that:

- ``preset=ultrafast`` + ``tune=zerolatency`` (no lookahead, no B-frames) on two slice threads
  (:data:`ENCODER_THREADS`): per 1080p scroll frame x264's automatic three took 8.4 ms of CPU
  for 5.7 ms of wall time, two take 6.6 ms for 4.4 ms, one 5.9 ms for 5.9 ms;
- **constant quality** (``crf`` :data:`QUALITY` with the quantizer curve flat,
  :data:`QUANTIZER_CURVE`) instead of an average bitrate: text is as sharp in a scroll as on a
  still screen, a typed letter costs a few hundred bytes, and a repeat of an unchanged screen
  costs ~25 bytes. Under average-bitrate control x264 spends whatever the budget allows:
  keep-alives of an unchanged screen came out at 0.1-6 KB each as it kept "refining", and a
  scroll at 1 Mbit/s was a smear (PSNR 24 dB against 40 dB here). x264's default curve (0.6)
  lowers the quantizer of simple frames, so each repeat of a still screen was refined again
  (0.6-22 KB each after a scroll);
- a **peak cap** (x264's VBV: :data:`PEAK_BITRATE` over a :data:`PEAK_BUFFER_BITS` buffer), so no
  single frame (a keyframe, a full-screen change) holds up the link for long; a scaled picture's
  is in proportion to its pixels (:func:`peak_bitrate`);
- **the congestion target limits the frame rate, not the quality**: aiortc's sender sets
  ``target_bitrate`` from the receiver's REMB; each encoded frame is reported with that target to
  the track's :class:`~veo.agent.pacing.SendBudget` (carried by the frame, :mod:`veo.agent.frame_note`),
  which waits before the next capture while the stream is ahead of it. The encoder itself is
  never reopened for a new target (aiortc does, with a keyframe each time), nor reconfigured:
  PyAV can only change the average bitrate of an open x264, which x264 applies only with VBV
  on and which had no measurable effect (``docs/performance.md``);
- a 1/90000 time base (frames are sent only when the screen changed, so their timestamps are
  irregular) and the rate control's frame rate set to the pacer's cap for the picture size
  (:func:`rate_control_fps`): with ``zerolatency`` x264 fills the VBV per frame, not per second;
- **chroma a little finer than luma** (:data:`CHROMA_QP_OFFSET`), so flat coloured areas settle
  on the screen's colour;
- **the colour conversion signalled** in the stream's VUI: the matrix, range, chroma location,
  primaries and transfer of :mod:`veo.agent.convert` (BT.601 limited, sRGB). Unsignalled,
  Chromium decoded the BT.601 pixels as BT.709 (magenta 230,40,160 shown as 245,65,161). The
  chroma location is the conversion's (:func:`veo.agent.convert.chroma_location`: the block's
  centre for libyuv and scaled pictures, the lower row of each 2×2 block for swscale unscaled);
- **sub-pixel motion search for scaled pictures** (:data:`SCALED_SUBPEL`): the track notes on each
  frame whether it is the screen scaled down (:mod:`veo.agent.frame_note`); a whole-pixel scroll
  of the screen is then a fractional shift, which ``ultrafast``'s whole-pixel search cannot
  follow. x264 is opened again (with a keyframe) when a stream turns scaled or unscaled, as at a
  size change;
- keyframes only when asked (session start, size change, the browser's PLI/FIR): no periodic
  keyframe bursts on an idle screen; a PLI/FIR also asks the track for a frame at once
  (``keyframe_requested``), so a broken picture is repaired without waiting for a change.

:func:`install` makes aiortc's sender create this encoder for H.264 and
:class:`veo.agent.vp8.ScreenVp8Encoder` for VP8 (the fallback for consoles without H.264), sends
the playout-delay header extension (:mod:`veo.agent.playout_delay`: the browser renders each
frame on decode) and, with ``VEO_STREAM_TIMELINE=1``, stamps each frame's encoding and sending
(:mod:`veo.agent.timeline`).
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

from veo.agent import convert, playout_delay, rtcp_reports, timeline
from veo.agent.capture.base import Size
from veo.agent.encoder import SETTINGS
from veo.agent.frame_note import note_of
from veo.agent.pacing import auto_max_fps
from veo.agent.vp8 import ScreenVp8Encoder

log = logging.getLogger(__name__)

PRESET = "ultrafast"
#: x264's constant rate factor: 24 keeps 10-px text sharp (PSNR 59 dB typing, 40 dB scrolling at
#: 1080p); 20 more than doubled the typing bytes for no visible gain
QUALITY = 24
#: x264's qcomp: 1.0 = the same quantizer for a busy frame and a still one (see module); it also
#: cut typing from 25 to 17 kbit/s and scrolling by a quarter for ~3-6 dB of an already high PSNR
QUANTIZER_CURVE = 1.0
#: the range ``target_bitrate`` reports and logs; the budget gets the raw estimate and has its
#: own floor (``pacing.FLOOR_BITRATE``)
MIN_BITRATE = 200_000
MAX_BITRATE = 12_000_000
#: x264's VBV: the stream's peak rate and the buffer that bounds one frame (50 KB: 200 ms on a
#: 2 Mbit/s link for the rare full-screen change; a scroll frame at 1080p is 10-15 KB)
PEAK_BITRATE = MAX_BITRATE
PEAK_BUFFER_BITS = 400_000
#: a scaled picture's peak rate is PEAK_BITRATE per this many pixels (at most PEAK_BITRATE): the
#: same peak bits per pixel as a 1080p picture's. A scaled full-screen scroll is held to the cap
#: (it cannot be followed as well as an unscaled one, see :data:`SCALED_SUBPEL`), so the cap sets
#: its bytes: at 1520x854 (0.63x) 25.3 -> 15.8 KB a frame offline, luma PSNR 38.4 -> 35.7 dB with
#: sub-pixel search, where ultrafast's whole pixels had 30.6 dB at 25 KB. Bench, 1080p in the
#: 1920x1200 console: 27.4-27.7 -> 17.1-17.7 KB per scroll update; on the poor link 5.3-7.1 ->
#: 8.1-10.3 updates/s, latency median 233-248 -> 165-170 ms (``docs/performance.md``)
SCALED_PEAK_PIXELS = 1920 * 1080
TIME_BASE = fractions.Fraction(1, 90_000)
ENCODER_THREADS = 2
#: chroma 4 quantizer steps finer than luma: at crf 24 alone a settled flat magenta block was
#: still shown 4 off in red (its colour lives in chroma, which text barely uses); with -4 every
#: flat block of the colour test is within 1 of the screen, for ~1 % more bytes
CHROMA_QP_OFFSET = -4
#: x264's ``subme`` for a scaled picture (``ultrafast``: 0, whole pixels only). A text page
#: scrolled 6 px a frame at 1080p -> 1520x854 (the agent's canvas and this encoder, offline):
#: every frame is at the peak cap either way (~25 KB), luma PSNR 30.6 -> 38.4 dB; a scrolling
#: 960x640 window, under the cap: 24.0 -> 16.0 KB a frame. It costs x264's half-pixel planes of
#: every frame: +1.7-2.4 ms of CPU per 1520x854 scroll frame, +1.7 ms per typed character.
#: Unscaled pictures gain nothing (0 to -1 % bytes), so they keep 0. ``ref=2`` on top saved
#: 0-2 % for 0.4-1.4 ms more: not used (``docs/performance.md``, "Encoding at the console's size")
SCALED_SUBPEL = 1


def rate_control_fps(width: int, height: int) -> int:
    """The frame rate x264's rate control divides the bitrate by: the pacer's cap for this size.

    ``tune=zerolatency`` turns off x264's variable-frame-rate rate control, so it budgets
    ``bitrate / fps`` per frame whatever the timestamps say. A fixed 30 there, with the pacer
    sending up to 60 fps at 720p, doubled the bitrate: 720p scrolling sent ~2x its REMB target
    and filled the *poor* link's queue. Fewer frames (an idle or typing screen) only spend less.
    """
    return round(SETTINGS.max_fps or auto_max_fps(Size(width, height)))


def peak_bitrate(width: int, height: int, scaled: bool) -> int:
    """x264's VBV peak rate for pictures of ``width`` x ``height``, scaled or not (see
    :data:`SCALED_PEAK_PIXELS`)."""
    if not scaled:
        return PEAK_BITRATE
    return round(PEAK_BITRATE * min(1.0, width * height / SCALED_PEAK_PIXELS))


def x264_params(scaled: bool) -> str:
    """The ``x264-params`` of a stream of scaled (or the screen's own) pictures: where its chroma
    sits, chroma's quantizer offset, and for scaled pictures the sub-pixel motion search."""
    params = {
        "chromaloc": convert.chroma_location(scaled),
        "chroma-qp-offset": CHROMA_QP_OFFSET,
    }
    if scaled:
        params["subme"] = SCALED_SUBPEL
    return ":".join(f"{name}={value}" for name, value in params.items())


class ScreenH264Encoder(H264Encoder):  # type: ignore[misc]
    """aiortc's H.264 packetizer with a libx264 context set up for screen content (see module)."""

    def __init__(self) -> None:
        super().__init__()
        self._target = MAX_BITRATE
        self._logged = MAX_BITRATE
        #: the receiver's last estimate as it came (not clamped), ``None`` before the first
        self.estimate: int | None = None
        #: what x264 was opened for: picture size and scaled or not (another re-opens it)
        self._opened_for: tuple[int, int, bool] | None = None

    @property
    def target_bitrate(self) -> int:
        """The congestion target in bit/s (aiortc's sender sets it from the receiver's REMB)."""
        return self._target

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self.estimate = int(bitrate) if bitrate > 0 else None
        self._target = max(MIN_BITRATE, min(int(bitrate), MAX_BITRATE))
        if not 0.8 < self._target / self._logged < 1.25:  # say when it really moved
            log.info("congestion target bitrate=%d", self._target)
            self._logged = self._target

    def _open(self, frame: av.VideoFrame, scaled: bool = False) -> Any:
        codec = av.CodecContext.create("libx264", "w")
        codec.width = frame.width
        codec.height = frame.height
        codec.pix_fmt = "yuv420p"
        codec.thread_count = ENCODER_THREADS
        codec.time_base = TIME_BASE
        codec.framerate = fractions.Fraction(rate_control_fps(frame.width, frame.height), 1)
        # the VUI says how the pixels were converted (libx264 copies these into the SPS)
        codec.colorspace = convert.COLORSPACE
        codec.color_range = convert.COLOR_RANGE
        codec.color_primaries = convert.PRIMARIES
        codec.color_trc = convert.TRANSFER
        codec.options = {
            "preset": PRESET,
            "tune": "zerolatency",
            "crf": str(QUALITY),
            "qcomp": str(QUANTIZER_CURVE),
            "maxrate": str(peak_bitrate(frame.width, frame.height, scaled)),
            "bufsize": str(PEAK_BUFFER_BITS),
            "level": "4.1" if frame.width * frame.height > 1280 * 720 else "3.1",
            "keyint": "infinite",
            "scenecut": "0",
            "x264-params": x264_params(scaled),
        }
        codec.profile = "Baseline"
        return codec

    def _encode_frame(self, frame: av.VideoFrame, force_keyframe: bool) -> Iterator[bytes]:
        note = note_of(frame)
        opened_for = (frame.width, frame.height, note.scaled)
        codec = self.codec
        if codec is not None and opened_for != self._opened_for:
            codec = None
        if codec is None:
            self.buffer_data = b""
            self.buffer_pts = None
            codec = self.codec = self._open(frame, note.scaled)
            self._opened_for = opened_for
        frame.pict_type = av.video.frame.PictureType.I if force_keyframe else av.video.frame.PictureType.NONE
        data = b"".join(bytes(packet) for packet in codec.encode(frame))
        if note.budget is not None:
            note.budget.spent(len(data), self.estimate)
        if data:
            yield from self._split_bitstream(data)


_timeline = False  # set by install(): wrap each new encoder to stamp its frames


def _get_encoder(codec: Any) -> Any:
    mime = str(codec.mimeType).lower()
    if mime == "video/h264":
        encoder: Any = ScreenH264Encoder()
    elif mime == "video/vp8":
        encoder = ScreenVp8Encoder()
    else:
        return aiortc_get_encoder(codec)
    return timeline.timed_encoder(encoder) if _timeline else encoder


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
    """Make every aiortc sender in this process use :class:`ScreenH264Encoder` (H.264) or
    :class:`~veo.agent.vp8.ScreenVp8Encoder` (VP8) and tell its track about keyframe requests
    (idempotent); offer and send the playout-delay extension; the stage timeline when asked."""
    global _timeline
    playout_delay.install()
    _timeline = timeline.install()
    rtcrtpsender.get_encoder = _get_encoder  # type: ignore[attr-defined]  # the hook aiortc lacks
    rtcrtpsender.RTCRtpSender._send_keyframe = _send_keyframe  # type: ignore[method-assign,assignment]
    rtcp_reports.install()  # the receiver's reports to the track's congestion controller
