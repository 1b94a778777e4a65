"""libvpx's VP8 set up for a remote screen: the fallback for consoles without H.264.

A browser that cannot receive H.264 (Firefox without its OpenH264 plug-in, which it downloads at
run time: absent offline and on many managed installs) gets VP8. aiortc's own VP8 encoder is
written for camera video and cost 2-3x the CPU of the H.264 path per frame
(``docs/performance.md``). :class:`ScreenVp8Encoder` keeps aiortc's packetizer and changes:

- **no denoiser** (aiortc sets ``noise-sensitivity 4``): a screen has no sensor noise to remove,
  and the denoiser was the largest cost: 18 ms of CPU per 1080p scroll frame with it, 10 without;
- **unchanged macroblocks are not searched again** (:data:`STATIC_THRESHOLD` 1, aiortc's value,
  where it had been 0): a typed character costs ~460 bytes and ~5 ms of CPU at 1080p instead of
  ~1.35 KB and 10-14 ms, a repeat of a still page ~200 bytes instead of ~1.2 KB;
- **no golden refresh at the finest quantizer** (:data:`MIN_QUANTIZER` 7, where it was 4): for
  its first 150 inter frames libvpx codes each periodic golden frame at the floor, which re-coded
  a page of text every ~11th frame while someone typed (80 kbit/s for 1080p typing, 34 now);
- **one thread** (:data:`THREADS`): libvpx's VP8 threads wait for each other by spinning; on
  two shared cores two threads took 77 ms of CPU per 1080p frame for the same picture;
- **constant quality** (``crf`` :data:`QUALITY`: libvpx's constrained-quality mode with the
  peak rate as its ceiling) instead of aiortc's constant bitrate: at CBR the scroll was a smear
  (27 dB) and the coarse frames left faint blocks on flat areas that the following frames at the
  same low rate did not repair (the colour test measured blue 0,0,255 shown as 10,0,246
  1.5 s after a window closed);
- **never reopened for a new congestion target** (aiortc opens a new encoder, with a keyframe,
  on every 10 % change): the target limits the frame rate through the track's
  :class:`~veo.agent.pacing.SendBudget`, exactly as for H.264; each frame's size is reported
  there (the budget travels with the frame, :mod:`veo.agent.frame_note`).

The pacing, change detection, partial conversion and refinement of the track are the same for
both codecs (:mod:`veo.agent.stream`).
"""

from __future__ import annotations

import fractions
from typing import Any

import av
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import VIDEO_TIME_BASE, convert_timebase

from veo.agent.frame_note import note_of

#: libvpx's cq-level (0-63, lower is sharper): 24 kept 10-px text readable in a 1080p scroll
#: (~42 dB) at ~10 KB a frame; a still frame repeated costs ~200 bytes
QUALITY = 24
#: the quality range libvpx may use (0-63; the peak rate is the same as H.264's). The floor is
#: where libvpx puts its golden-frame refreshes (every ~11th frame) for its first 150 inter frames
#: (one-pass rate control without history); after those it puts them at quantizer index ~8. At 4
#: the early refreshes re-coded a page of text at its finest quantizer while someone typed: 3-30
#: KB a refresh, 80 kbit/s for 1080p typing instead of 34 (offline; the bench measured 81). 7 is
#: index 8, libvpx's own later floor, from the first frame: the settled picture is what a session
#: has after its first 150 frames anyway (a scrolled page settles at 46.4 dB against 46.9 there;
#: 50.5 in the first 150), flat blocks settle within 1 (``docs/performance.md``, "Typing")
MIN_QUANTIZER = 7
MAX_QUANTIZER = 56
PEAK_BITRATE = 12_000_000
#: aiortc's speed setting, kept: -16 and 16 took 10-20 % less CPU dragging a window but sent a
#: third more bytes scrolling; 8 took more CPU
CPU_USED = -6
THREADS = 1
#: libvpx's "static threshold" (encode breakout) on, at its least: a macroblock whose difference
#: from its prediction is below max(threshold, a floor that grows with the quantizer) is coded as
#: "same as before" without a mode search. Off (0), every macroblock of a 1080p picture was
#: searched and coded again on every frame, and on a page of text the choice flipped from frame
#: to frame: bench typing cost ~1.35 KB and 10-14 ms of CPU a frame (89 kbit/s), and each repeat
#: of the still page ~1.2 KB for ever, never settling (PSNR stuck at 52 dB). At 1: ~460 bytes and
#: ~5 ms a frame (37 kbit/s), repeats ~200 bytes, PSNR 63 dB (recorded bench frames replayed,
#: ``docs/performance.md``). The floor is what once kept this off (flat blocks 4 off in chroma
#: at 100-500, when CBR frames were coarse): at the constant quality's quantizer it allows less
#: than one level of error on a flat block (unit test: a new flat block settles within 2)
STATIC_THRESHOLD = 1
TIME_BASE = fractions.Fraction(1, 90_000)
#: fewer keyframes than the wrap of aiortc's picture id: only when asked (start, PLI, size)
KEYFRAME_INTERVAL = 100_000


class ScreenVp8Encoder(Vp8Encoder):  # type: ignore[misc]
    """aiortc's VP8 packetizer with a libvpx context set up for screen content (see module)."""

    def __init__(self) -> None:
        super().__init__()
        #: the receiver's last estimate as it came, ``None`` before the first (see low_latency)
        self.estimate: int | None = None

    @property
    def target_bitrate(self) -> int:
        return PEAK_BITRATE

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self.estimate = int(bitrate) if bitrate > 0 else None

    def _open(self, frame: av.VideoFrame) -> Any:
        codec = av.CodecContext.create("libvpx", "w")
        codec.width = frame.width
        codec.height = frame.height
        codec.pix_fmt = "yuv420p"
        codec.time_base = TIME_BASE
        codec.bit_rate = PEAK_BITRATE
        codec.gop_size = KEYFRAME_INTERVAL
        codec.qmin = MIN_QUANTIZER
        codec.qmax = MAX_QUANTIZER
        codec.thread_count = THREADS
        codec.options = {
            "deadline": "realtime",
            "cpu-used": str(CPU_USED),
            "lag-in-frames": "0",
            "crf": str(QUALITY),
            "maxrate": str(PEAK_BITRATE),
            "noise-sensitivity": "0",
            "static-thresh": str(STATIC_THRESHOLD),
            "undershoot-pct": "100",
            "overshoot-pct": "15",
        }
        return codec

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        assert isinstance(frame, av.VideoFrame)
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        codec = self.codec
        if codec is not None and (frame.width != codec.width or frame.height != codec.height):
            codec = None
        if codec is None:
            codec = self.codec = self._open(frame)
            force_keyframe = True
        frame.pict_type = av.video.frame.PictureType.I if force_keyframe else av.video.frame.PictureType.NONE
        data = b"".join(bytes(packet) for packet in codec.encode(frame))
        budget = note_of(frame).budget
        if budget is not None:
            budget.spent(len(data), self.estimate)
        payloads: list[bytes] = self._packetize(data, self.picture_id)
        timestamp = convert_timebase(frame.pts, frame.time_base, VIDEO_TIME_BASE)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads, timestamp
