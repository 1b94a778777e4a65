"""libvpx's VP8 set up for a remote screen: the fallback for consoles without H.264.

A browser that cannot receive H.264 (Firefox without its OpenH264 plug-in, which it downloads at
run time: absent offline and on many managed installs) gets VP8. aiortc's own VP8 encoder is
written for camera video and cost 2-3x the CPU of the H.264 path per frame
(``docs/performance.md``). :class:`ScreenVp8Encoder` keeps aiortc's packetizer and changes:

- **no denoiser** (aiortc sets ``noise-sensitivity 4``): a screen has no sensor noise to remove,
  and the denoiser was the largest cost: 18 ms of CPU per 1080p scroll frame with it, 10 without;
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
  there (the budget travels with the frame, ``frame.opaque``).

The pacing, change detection, partial conversion and refinement of the track are the same for
both codecs (:mod:`veo.agent.stream`).
"""

from __future__ import annotations

import fractions
from typing import Any

import av
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import VIDEO_TIME_BASE, convert_timebase

from veo.agent.pacing import SendBudget

#: libvpx's cq-level (0-63, lower is sharper): 24 kept 10-px text readable in a 1080p scroll
#: (~42 dB) at ~10 KB a frame; a still frame repeated costs ~200 bytes
QUALITY = 24
#: the quality range libvpx may use (its quantizer indices); the peak rate is the same as H.264's
MIN_QUANTIZER = 4
MAX_QUANTIZER = 56
PEAK_BITRATE = 12_000_000
#: aiortc's speed setting, kept: -16 and 16 took 10-20 % less CPU dragging a window but sent a
#: third more bytes scrolling; 8 took more CPU
CPU_USED = -6
THREADS = 1
#: libvpx's "static threshold" (encode breakout) stays off. With it a macroblock whose difference
#: from the last frame is below max(threshold, a floor that grows with the quantizer) is repeated
#: without a mode search: 1080p typing 6.1 -> 4.2 ms, scrolling 9.0 -> 6.2 ms of CPU per frame
#: at 100. But that floor also stops the refinement of a still screen: flat blocks stayed 4 off
#: in chroma after a window closed (two runs of three at 100 and 500; at most 2 off without),
#: and a faithful settled picture is the promise (aiortc's 1 has the same floor)
STATIC_THRESHOLD = 0
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
        budget = frame.opaque
        if isinstance(budget, SendBudget):
            budget.spent(len(data), self.estimate)
        payloads: list[bytes] = self._packetize(data, self.picture_id)
        timestamp = convert_timebase(frame.pts, frame.time_base, VIDEO_TIME_BASE)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads, timestamp
